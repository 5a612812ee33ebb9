import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { main } from '../../lib/cli/main';

async function run(args: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await main(args, { out: () => undefined, err: (l) => err.push(l) });
  return { code, err: err.join('\n') };
}

t.test('one way to name the Haraka directory, and clear errors for a wrong one', async (t) => {
  const a = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-args-'));
  const b = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-args-'));
  t.teardown(() => [a, b].forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const missing = path.join(a, 'no-such-dir');
  for (const command of ['check', 'status']) {
    const gone = await run([command, '--config', missing]);
    t.equal(gone.code, 2, `${command} --config of a missing directory`);
    // check names what a Haraka directory lacks; status that there is no directory
    t.match(gone.err, command === 'check' ? `${missing} is not a Haraka directory` : `no directory ${missing}`);
    t.equal((await run([command, missing])).code, 2, `${command} with a missing positional directory`);
    const two = await run([command, a, '--config', b]);
    t.equal(two.code, 2, `${command}: two different directories`);
    t.match(two.err, /two Haraka directories given/);
    t.equal((await run([command, '--config'])).code, 2, `${command}: --config without a directory`);
  }
  // the same directory both ways is fine: status then fails only for want of a running Haraka
  const same = await run(['status', a, '--config', a]);
  t.equal(same.code, 1);
  t.match(same.err, /no .*paceline-status\.json: is Haraka with paceline running/);
});

t.test('status usage errors exit 2 with the usage', async (t) => {
  for (const args of [
    ['--count', '2'],
    ['--watch', '0'],
    ['--watch', '1', '--count', '0'],
    ['--provider'],
    ['extra', 'args'],
  ]) {
    const r = await run(['status', ...args]);
    t.equal(r.code, 2, args.join(' '));
    t.match(r.err, /usage: paceline status/);
  }
});
