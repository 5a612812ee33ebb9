/** Sources that reach no MX host: the down mark, the engine leaving them out, the adapter's signal, the check command. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { SourceHealth } from '../../lib/core/source-health';
import { bindError } from '../../lib/engine/bind-check';
import { unreachedOf } from '../../lib/haraka/glue';
import { sourceLines } from '../../lib/engine/status-rows';
import { check } from '../../lib/cli/check';
import { rig } from '../helpers/fakes';

t.test(
  'down after N failures in a row, for down_for; a retry that fails marks it down again; a success clears',
  async (t) => {
    const h = new SourceHealth({ downAfter: 3, downMs: 60_000 });
    const why = 'cannot bind 192.0.2.1 (EADDRNOTAVAIL)';
    const steps: Array<[number, 'fail' | 'ok', boolean, string]> = [
      // [at ms, event, down after it, note]
      [0, 'fail', false, '1 in a row'],
      [10, 'fail', false, '2 in a row'],
      [20, 'fail', true, '3 in a row: down until 60 020'],
      [30, 'fail', true, 'in-flight failures do not extend the mark'],
      [60_019, 'fail', true, 'still down'],
      [60_020, 'fail', true, 'the down time is over: one failed retry marks it down again, until 120 020'],
      [120_020, 'ok', false, 'a delivery or a reply clears it'],
      [120_030, 'fail', false, 'counting starts over'],
    ];
    for (const [at, event, down, note] of steps) {
      if (event === 'fail') h.failed('bad', at, why);
      else h.reached('bad');
      t.equal(h.isDown('bad', at), down, note);
    }
    t.equal(h.isDown('bad', 120_029), false);
    t.same(h.troubles(120_030), [
      { source: 'bad', failures: 1, state: 'failing', since: 120_030, until: 0, reason: why },
    ]);
    t.notOk(h.isDown('good', 0), 'a source never failed is up');
  },
);

t.test('troubles say down, retrying or failing; reports say when a failure marked the source', async (t) => {
  const h = new SourceHealth({ downAfter: 2, downMs: 1000 });
  t.same(h.failed('x', 0, 'r'), { failures: 1, marked: false, until: 0 });
  t.same(h.failed('x', 5, 'r'), { failures: 2, marked: true, until: 1005 });
  t.same(h.failed('x', 6, 'r'), { failures: 3, marked: false, until: 1005 });
  t.match(h.troubles(10), [{ source: 'x', state: 'down', failures: 3 }]);
  t.match(h.troubles(2000), [{ source: 'x', state: 'retrying' }]);
  t.equal(h.reached('x'), true, 'reached says it had failures');
  t.equal(h.reached('x'), false);
  const lines = sourceLines(
    [
      {
        source: 'x',
        failures: 3,
        state: 'down',
        since: 0,
        until: 61_000,
        reason: 'cannot bind 192.0.2.1 (EADDRNOTAVAIL)',
        pid: 42,
      },
    ],
    1000,
  );
  t.same(lines, [
    'source x: down until 1970-01-01T00:01:01.000Z (60s), 3 attempts in a row reached no MX host (cannot bind 192.0.2.1 (EADDRNOTAVAIL)) [pid 42]',
  ]);
  t.same(sourceLines([], 0), ['sources: every source reaches its MX hosts']);
});

t.test('the engine leaves a down source out of its pool, and uses every source when all are down', async (t) => {
  const yaml = {
    sources: { good: { address: '127.0.0.2' }, bad: { address: '192.0.2.1' } },
    pools: { default: { sources: ['good', 'bad'] } },
    providers: { google: { limits: { rate: 'unlimited', concurrency: 'unlimited' } } },
  };
  const r = rig(yaml, { sources: { down_after: '2', down_for: '60s' } });
  const q = r.clock.now();
  const sent: string[] = [];
  for (let i = 0; i < 12; i++) {
    const ticket = {};
    const d = await r.engine.decide({ id: `m${i}`, domain: 'gmail.test', queueTime: q }, ticket);
    if (d.action !== 'send') throw new Error(`expected a send, got ${d.action}`);
    sent.push(d.source.name);
    const report = await r.engine.outcome(
      ticket,
      d.source.name === 'bad' ? { delivered: false, unreached: true } : { delivered: true },
    );
    if (d.source.name === 'bad')
      t.match(
        report?.unreached,
        { reason: 'cannot bind 192.0.2.1 (EADDRNOTAVAIL)' },
        'the reason says the address cannot be bound',
      );
  }
  t.equal(sent.filter((s) => s === 'bad').length, 2, `two failures, then bad is left out (${sent.join(' ')})`);
  t.ok(
    sent.slice(-6).every((s) => s === 'good'),
    'the rest leave from good',
  );
  r.clock.advance(60_000);
  const back: string[] = [];
  for (let i = 0; i < 4; i++) {
    const ticket = {};
    const d = await r.engine.decide({ id: `n${i}`, domain: 'gmail.test', queueTime: q }, ticket);
    if (d.action === 'send') back.push(d.source.name);
    await r.engine.outcome(ticket, {
      delivered: d.action === 'send' && d.source.name === 'good',
      ...(d.action === 'send' && d.source.name === 'bad' ? { unreached: true } : {}),
    });
  }
  t.equal(
    back.filter((s) => s === 'bad').length,
    1,
    `after down_for bad is tried once more, and is down again (${back.join(' ')})`,
  );
  const solo = rig({ ...yaml, pools: { default: { sources: ['bad'] } } }, { sources: { down_after: '1' } });
  const ticket = {};
  await solo.engine.decide({ id: 's0', domain: 'gmail.test', queueTime: q }, ticket);
  await solo.engine.outcome(ticket, { delivered: false, unreached: true });
  t.match(
    await solo.engine.decide({ id: 's1', domain: 'gmail.test', queueTime: q }, {}),
    { action: 'send', source: { name: 'bad' } },
    'a pool whose every source is down still sends: a down mark never stops mail',
  );
});

t.test('a reply or a delivery clears the failures', async (t) => {
  const r = rig(
    { sources: { a: { address: '127.0.0.2' } }, pools: { default: { sources: ['a'] } } },
    { sources: { down_after: '5' } },
  );
  const first = {};
  await r.engine.decide({ id: 'm0', domain: 'gmail.test', queueTime: r.clock.now() }, first);
  t.match(
    await r.engine.outcome(first, { delivered: false, unreached: true }),
    { unreached: { failures: 1, marked: false, reason: 'no connection to any MX host' } },
    '127.0.0.2 binds: the reason is the connection',
  );
  const second = {};
  await r.engine.decide({ id: 'm1', domain: 'gmail.test', queueTime: r.clock.now() }, second);
  t.match(
    await r.engine.outcome(second, { delivered: false, reply: '451 4.7.1 try later' }),
    { recovered: true },
    'a reply means a host was reached',
  );
  t.same(r.engine.health.troubles(r.clock.now()), []);
});

t.test('Haraka\'s "Tried all MXs" is an attempt that reached no MX host; a reply is not', async (t) => {
  t.equal(unreachedOf('Tried all MXs'), true);
  t.equal(unreachedOf(new Error('Too many failures (Tried all MXs)')), true, 'the last allowed attempt, at bounce');
  t.equal(unreachedOf('Upstream error: 451 4.7.500 Server busy'), false);
  t.equal(
    unreachedOf('Tried all MXs', [{ reason: '450 4.2.1 mailbox busy' }]),
    false,
    'a failed recipient with a reply',
  );
  t.equal(unreachedOf(undefined), false);
});

t.test('bindError: an address not on this host cannot be bound; loopback can', async (t) => {
  t.equal(await bindError('192.0.2.1'), 'EADDRNOTAVAIL');
  t.equal(await bindError('127.0.0.2'), undefined);
});

t.test('paceline check reports a source address that cannot be bound here', async (t) => {
  /** A Haraka dir of its own (haraka-config caches what it read per path). */
  const harakaDir = (yaml: string) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-check-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.mkdirSync(path.join(dir, 'config'));
    fs.writeFileSync(path.join(dir, 'config', 'paceline.yaml'), yaml);
    return dir;
  };
  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await check(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
    return { code, out, err };
  };
  const good = harakaDir('sources:\n  good: { address: 127.0.0.2 }\npools:\n  default: { sources: [good] }\n');
  const ok = await run([good]);
  t.equal(ok.code, 0);
  t.match(ok.out[0], /is valid; every source address binds on this host/);
  const dir = harakaDir(
    'sources:\n  good: { address: 127.0.0.2 }\n  bad: { address: 192.0.2.1 }\npools:\n  default: { sources: [good, bad] }\n',
  );
  const bad = await run([dir]);
  t.equal(bad.code, 1, 'exit 1');
  t.same(bad.err, [
    `paceline config in ${dir} is valid, but 1 source cannot send from this host:`,
    '  source bad: address 192.0.2.1 cannot be bound on this host (EADDRNOTAVAIL)',
  ]);
  const skipped = await run([dir, '--no-bind']);
  t.equal(skipped.code, 0, '--no-bind skips the bind test (a config checked on another host)');
  t.match(skipped.out[0], /--no-bind/);
  t.equal((await run(['--bogus'])).code, 2);
});

t.test('status reads the sources files written in the last minute only', async (t) => {
  const { readSourceSnapshots, SOURCES_FILE_STALE_MS } = await import('../../lib/store/open');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-sources-files-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const now = 1_000_000_000;
  const trouble = { source: 'bad', failures: 3, state: 'down', since: now - 10, until: now + 1000, reason: 'r' };
  fs.writeFileSync(
    path.join(dir, 'paceline-sources-11.json'),
    JSON.stringify({ now: now - 5000, pid: 11, sources: [trouble] }),
  );
  fs.writeFileSync(
    path.join(dir, 'paceline-sources-22.json'),
    JSON.stringify({ now: now - SOURCES_FILE_STALE_MS - 1, pid: 22, sources: [trouble] }),
  );
  fs.writeFileSync(path.join(dir, 'paceline-sources-33.json'), '{"now": 12');
  t.same(
    readSourceSnapshots(dir, now).map((s) => s.pid),
    [11],
    'a stale file (a process gone) and a broken one are skipped',
  );
  t.same(readSourceSnapshots(path.join(dir, 'missing'), now), []);
});

t.test('a message that reached no MX host comes back in 2 s when another source of its pool is up', async (t) => {
  const { UNREACHED_RETRY_MS } = await import('../../lib/engine/outcomes');
  const yaml = {
    sources: { good: { address: '127.0.0.2' }, bad: { address: '192.0.2.1' } },
    pools: { default: { sources: ['good', 'bad'] }, lone: { sources: ['bad'] } },
  };
  const r = rig(yaml, { sources: { down_after: '1' } });
  const lane = { source: 'bad', provider: 'google' };
  const first = await r.engine.outcome({}, { delivered: false, unreached: true, lane });
  t.equal(first?.reopensAt, r.clock.now() + UNREACHED_RETRY_MS, 'good is up: back soon, to leave from it');
  const alone = rig({ ...yaml, pools: { default: { sources: ['bad'] } } }, { sources: { down_after: '1' } });
  const report = await alone.engine.outcome({}, { delivered: false, unreached: true, lane });
  t.equal(report?.reopensAt, undefined, "no other source: Haraka's own retry interval");
  t.match(report?.unreached, { marked: true });
});
