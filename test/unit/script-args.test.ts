/**
 * The ARGV layouts of lib/store/script-args.ts against the scripts: every
 * script's header lists the same ARGV (indexes and ranges) as the table,
 * every `ARG.<name>` a script reads is in its table, and scriptArgs()
 * refuses a call that would shift the layout.
 */

import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { SCRIPTS, type ScriptName } from '../../lib/store/redis-scripts';
import { ARG_GROUPS, argIndexes, argPrelude, groupPrelude, scriptArgs, SCRIPT_ARGS } from '../../lib/store/script-args';

const LUA = path.resolve(__dirname, '../../lib/store/lua');
const names = Object.keys(SCRIPTS) as ScriptName[];

/** The ARGV a script's header comment lists: `ARGV[n]`, `ARGV[a..b]` or `ARGV[a..]` (the rest). */
function headerArgv(text: string): string[] {
  const header = text.slice(0, text.indexOf('\n]]'));
  return [...header.matchAll(/^\s*ARGV\[(\d+)(?:\.\.(\d*))?\]/gm)]
    .map((m) => (m[2] === undefined ? String(m[1]) : `${m[1]}..${m[2]}`))
    .filter((v, i, all) => all.indexOf(v) === i);
}

/** The same list from the table. */
function tableArgv(script: ScriptName): string[] {
  return argIndexes(script).map((a) =>
    a.last === undefined ? `${a.first}..` : a.last === a.first ? String(a.first) : `${a.first}..${a.last}`,
  );
}

t.test('the table covers every script, and every script header lists the table ARGV', async (t) => {
  t.same(Object.keys(SCRIPT_ARGS).sort(), [...names].sort(), 'one layout per script');
  for (const name of names) {
    const text = fs.readFileSync(path.join(LUA, `${name}-${SCRIPTS[name]}.lua`), 'utf8');
    t.same(headerArgv(text), tableArgv(name), `${name}: header ARGV = table`);
    const used = new Set([...text.matchAll(/\bARG\.(\w+)/g)].map((m) => m[1]));
    const known = new Set(argIndexes(name).map((a) => a.name));
    t.same(
      [...used].filter((u) => !known.has(u as string)),
      [],
      `${name}: every ARG.<name> it reads is in its table`,
    );
    t.notMatch(text.slice(text.indexOf('\n]]')), /ARGV\[\d+\]/, `${name}: reads ARGV by name, not by number`);
  }
});

t.test('the header of a group range names as many values as the group has', async (t) => {
  t.same(tableArgv('react'), ['1', '2', '3', '4', '5..13', '14..26']);
  t.equal(ARG_GROUPS.limits.length, 13);
  t.match(argPrelude('acquire'), /^local ARG = \{ clock = 1, mode = 2, leaseId = 3, leaseMs = 4, limits = 5 \}$/);
  t.match(groupPrelude().join('\n'), /local ARG_SIZE = \{ limits = 13, react = 9, incident = 5 \}/);
});

t.test('scriptArgs builds ARGV in table order and refuses a shifted layout', async (t) => {
  const limits = ARG_GROUPS.limits.map(() => '');
  t.same(scriptArgs('acquire', { limits, leaseMs: 3000, leaseId: 'L', mode: 'now', clock: '' }), [
    '',
    'now',
    'L',
    '3000',
    ...limits,
  ]);
  t.same(
    scriptArgs('control', { clock: '', op: 'clear', targetKey: 'k' }),
    ['', 'clear', 'k'],
    'trailing values left out',
  );
  t.same(scriptArgs('renew', { clock: '', ttlMs: 1, leaseIds: ['a', 'b'] }), ['', '1', 'a', 'b']);
  t.throws(() => scriptArgs('acquire', { clock: '', leaseId: 'L', leaseMs: 1, limits }), {
    message: 'paceline: script acquire: no value for ARGV mode',
  });
  t.throws(() => scriptArgs('acquire', { clock: '', mode: 'now', leaseId: 'L', leaseMs: 1, limits: ['1'] }), {
    message: 'paceline: script acquire: limits has 1 values, expected 13',
  });
});
