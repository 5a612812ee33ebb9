/**
 * The memory store's state file (lib/store/memory-codec.ts, memory-file.ts):
 * what a restart keeps and what it drops, files that cannot be used, and the
 * writes (periodic, at flush, and on SIGTERM in a real child process).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { DEFAULT_REACT } from '../../lib/core/adapt';
import { parseRate, type Rate } from '../../lib/core/rate';
import type { LaneLimits } from '../../lib/core/lane-state';
import { MemoryStore } from '../../lib/store/memory';
import { decodeState, encodeState, STATE_VERSION } from '../../lib/store/memory-codec';
import { restoreState, startPersisting, STATE_FILE } from '../../lib/store/memory-file';

const T0 = Date.UTC(2026, 11, 3, 10, 0, 0);
const lane = (provider: string) => ({ source: 'mta-a', provider });
const req = (id: string) => ({ mode: 'now' as const, leaseId: id, leaseMs: 900_000 });
const limits: LaneLimits = { rate: parseRate('60/min') as Rate, concurrency: 1, perDay: 3 };

function tmpDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-state-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A store with a suspended lane, a lane with a lease and a day count, a warm-up record, a start, a hit and a provider incident. */
async function busyStore(t: Test, now: { t: number }): Promise<MemoryStore> {
  const store = new MemoryStore(() => now.t);
  await store.react(lane('yahoo'), limits, { category: 'suspend', durationMs: 7_200_000 }, DEFAULT_REACT);
  t.equal((await store.acquire(lane('google'), limits, req('L1'))).value.kind, 'granted');
  now.t += 2000;
  await store.release(lane('google'), limits, 'L1', true, 500);
  t.equal((await store.acquire(lane('google'), limits, req('L2'))).value.kind, 'granted', 'a lease left open');
  await store.saveWarmRecord(lane('google'), { start: 20_000, step: 4, evaluated: 20_060, badDays: 1 });
  await store.sourceStart('mta-a', 20_000);
  await store.hit(lane('yahoo'), 'some-rule', 600_000);
  await store.providerThrottle('microsoft365', 'mta-a', 1, {
    windowMs: 300_000,
    minSources: 1,
    share: 0.5,
    pauseMs: 300_000,
    probeIntervalMs: 30_000,
  });
  return store;
}

t.test(
  'a restored store keeps suspensions, day counts, warm-up, starts, hits and incidents, but no lease',
  async (t) => {
    const now = { t: T0 };
    const before = await busyStore(t, now);
    const text = encodeState(before.snapshot(), now.t, 42);
    const after = new MemoryStore(() => now.t);
    after.restore(decodeState(text).snapshot);

    t.equal(after.laneCount, 2);
    const noLeases = (s: MemoryStore) => s.snapshot().lanes.map((e) => ({ ...e, state: { ...e.state, leases: [] } }));
    t.same(after.snapshot().lanes, noLeases(before), 'every field of every lane restored as saved, but the leases');
    const wait = (await after.acquire(lane('yahoo'), limits, req('Y'))).value;
    t.match(wait, { kind: 'wait', reason: 'paused' }, 'the suspension holds');
    t.ok(wait.kind === 'wait' && wait.at >= T0 + 7_200_000 - 1000, 'until its end, 2 h after the reply');
    t.same(
      await after.warmRecord(lane('google')),
      { start: 20_000, step: 4, evaluated: 20_060, badDays: 1 },
      'warm-up record kept',
    );
    t.equal(await after.sourceStart('mta-a', 20_999), 20_000, 'the source’s start day kept');
    t.equal(await after.hit(lane('yahoo'), 'some-rule', 600_000), 2, 'a rule’s matches in its window kept');
    t.ok(
      (
        await after.providerProbe('microsoft365', {
          windowMs: 300_000,
          minSources: 1,
          share: 0.5,
          pauseMs: 300_000,
          probeIntervalMs: 30_000,
        })
      ).value.ok === false,
      'the provider pause holds',
    );

    const google = (await after.lanes()).value.find((l) => l.lane.provider === 'google');
    t.same(google?.state.leases, [], 'the lease of a delivery that died with the process is not restored');
    t.equal(google?.state.dayCount, 2, 'the day count is kept');
    now.t += 2000;
    t.equal(
      (await after.acquire(lane('google'), limits, req('L3'))).value.kind,
      'granted',
      'so its concurrency slot is free (concurrency 1)',
    );
    now.t += 2000;
    await after.release(lane('google'), limits, 'L3', true);
    t.match(
      (await after.acquire(lane('google'), limits, req('L4'))).value,
      { kind: 'wait', reason: 'daily' },
      'and the day’s cap of 3 holds',
    );
    t.match(
      (await before.acquire(lane('google'), limits, req('L5'))).value,
      { kind: 'wait', reason: 'concurrency' },
      'the old store still had the lease',
    );
  },
);

t.test('decodeState names what is wrong with a file', async (t) => {
  const now = { t: T0 };
  const good = encodeState((await busyStore(t, now)).snapshot(), T0, 1);
  const body = JSON.parse(good) as Record<string, unknown>;
  const cases: Array<[string, string, RegExp]> = [
    ['truncated', good.slice(0, good.length >> 1), /not JSON .*truncated or damaged/],
    ['empty', '', /not JSON/],
    ['foreign JSON', '{"hello":"world"}', /not a paceline memory state file/],
    [
      'the status snapshot',
      JSON.stringify({ now: T0, pid: 1, lanes: [], warm: [] }),
      /not a paceline memory state file/,
    ],
    [
      'another version',
      JSON.stringify({ ...body, version: STATE_VERSION + 1 }),
      /version 2, this paceline reads version 1/,
    ],
    ['other lane fields', JSON.stringify({ ...body, laneFields: ['tat'] }), /lanes have other fields/],
    [
      'a bad lane value',
      good.replace(/"mta-a","google",\d+/, '"mta-a","google","soon"'),
      /lanes\[\d\] touched: expected a finite number/,
    ],
    [
      'a short lane',
      JSON.stringify({ ...body, lanes: [['mta-a', 'google']] }),
      /lanes\[0\]: expected \d+ entries, got 2/,
    ],
    [
      'a bad warm record',
      JSON.stringify({ ...body, warm: [['mta-a|google', 1, 2, null, 0]] }),
      /warm\[0\]\[3\]: expected a finite number/,
    ],
  ];
  for (const [what, text, message] of cases) t.throws(() => decodeState(text), { message }, what);
  t.equal(decodeState(good).snapshot.lanes.length, 2, 'the intact file reads back');
  const oldNames = JSON.parse(good) as { laneFields: string[] };
  const renamed = oldNames.laneFields.map((f) => ({ sameEventUntil: 'holdUntil', trialAt: 'probeAt' })[f] ?? f);
  t.ok(renamed.includes('holdUntil') && renamed.includes('probeAt'), 'the old names are in the old file');
  const before = decodeState(good).snapshot;
  t.same(
    decodeState(JSON.stringify({ ...oldNames, laneFields: renamed })).snapshot,
    before,
    'a file written before the renames (holdUntil, probeAt) reads back the same',
  );
});

t.test('restoreState: no file starts empty; an unusable file is set aside with a warning, never fatal', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, STATE_FILE);
  const logs: string[] = [];
  const log = (level: string, text: string) => logs.push(`${level} ${text}`);
  t.equal(restoreState(new MemoryStore(), file, log), 0);
  t.match(logs.pop(), /^info paceline: no state file .* starts empty/);

  const now = { t: T0 };
  const good = encodeState((await busyStore(t, now)).snapshot(), T0, 1);
  fs.writeFileSync(file, good.slice(0, 100));
  const store = new MemoryStore(() => now.t);
  t.equal(restoreState(store, file, log, T0), 0);
  t.equal(store.laneCount, 0, 'the store starts empty');
  t.match(
    logs.pop(),
    /^warn paceline: state file .*paceline-state\.json is unusable: not JSON .*; set aside as .*paceline-state\.json\.bad-2026-12-03T10-00-00-000Z; the memory store starts empty/,
  );
  t.notOk(fs.existsSync(file), 'the bad file is no longer in the way');
  t.equal(
    fs.readFileSync(`${file}.bad-2026-12-03T10-00-00-000Z`, 'utf8'),
    good.slice(0, 100),
    'and kept for a look, unchanged',
  );

  fs.writeFileSync(file, good);
  t.equal(restoreState(store, file, log, T0 + 5000), 2, 'a good file restores its lanes');
  t.match(
    logs.pop(),
    /^notice paceline: memory store restored from .* \(written 5s ago by pid 1\): 2 lanes, 1 warm-up records, 1 providers; leases are not restored/,
  );
});

t.test(
  'startPersisting writes a changed store within its interval, not an unchanged one, and flush writes at once',
  async (t) => {
    const dir = tmpDir(t);
    const file = path.join(dir, STATE_FILE);
    const now = { t: T0 };
    const store = await busyStore(t, now);
    const p = startPersisting(store, file, () => undefined, 100);
    t.teardown(() => p.stop());
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(file) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    t.equal(decodeState(fs.readFileSync(file, 'utf8')).snapshot.lanes.length, 2, 'written by the timer');
    const ino = fs.statSync(file).ino;
    await new Promise((r) => setTimeout(r, 500));
    t.equal(fs.statSync(file).ino, ino, 'nothing changed: not written again (the same file)');
    await store.react(lane('hotmail'), limits, { category: 'blocked' }, DEFAULT_REACT);
    p.flush();
    t.equal(
      decodeState(fs.readFileSync(file, 'utf8')).snapshot.lanes.length,
      3,
      'flush wrote the new lane synchronously',
    );
    t.same(fs.readdirSync(dir), [STATE_FILE], 'no temp file left behind');
  },
);

t.test('a flush during a periodic write wins: the older write never lands over it (a slow disk)', async (t) => {
  const dir = tmpDir(t);
  const file = path.join(dir, STATE_FILE);
  const store = await busyStore(t, { t: T0 });
  // a slow disk: every asynchronous rename takes 150 ms (the periodic write must not rename after a flush)
  const rename = fs.promises.rename;
  fs.promises.rename = async (from, to) => {
    await new Promise((r) => setTimeout(r, 150));
    return rename(from, to);
  };
  t.teardown(() => {
    fs.promises.rename = rename;
  });
  const p = startPersisting(store, file, () => undefined, 20);
  t.teardown(() => p.stop());
  await store.react(lane('hotmail'), limits, { category: 'blocked' }, DEFAULT_REACT);
  await new Promise((r) => setTimeout(r, 80)); // a periodic write of 3 lanes has begun
  await store.react(lane('aol'), limits, { category: 'blocked' }, DEFAULT_REACT);
  p.flush(); // as on SIGTERM: 4 lanes, synchronously
  await new Promise((r) => setTimeout(r, 300)); // whatever was in flight has ended
  t.equal(decodeState(fs.readFileSync(file, 'utf8')).snapshot.lanes.length, 4, 'the flushed state is the one on disk');
  t.same(fs.readdirSync(dir), [STATE_FILE], 'no temp file left behind');
});

t.test('a failed write is logged once and retried; pacing is not disturbed', async (t) => {
  const dir = path.join(tmpDir(t), 'not-yet');
  const file = path.join(dir, STATE_FILE);
  const logs: string[] = [];
  const store = await busyStore(t, { t: T0 });
  const p = startPersisting(store, file, (level, text) => logs.push(`${level} ${text}`), 50);
  t.teardown(() => p.stop());
  await new Promise((r) => setTimeout(r, 600));
  t.equal(logs.length, 1, `one warning for several failed writes: ${logs.join(' | ')}`);
  t.match(
    logs[0],
    /^warn paceline: could not write the state file .*not-yet\/paceline-state\.json: .*ENOENT.*; retrying/,
  );
  fs.mkdirSync(dir);
  const deadline = Date.now() + 10_000;
  while (!fs.existsSync(file) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.equal(decodeState(fs.readFileSync(file, 'utf8')).snapshot.lanes.length, 2, 'written once the directory exists');
});

t.test('process exit: the state is written by the exit hook', async (t) => {
  const dir = tmpDir(t);
  const dist = path.resolve(__dirname, '../../dist/lib');
  const script = `
    const { MemoryStore } = require(${JSON.stringify(`${dist}/store/memory`)});
    const { persistMemory } = require(${JSON.stringify(`${dist}/store/open`)});
    const store = new MemoryStore();
    persistMemory(store, ${JSON.stringify(dir)}, () => undefined);
    store.sourceStart('mta-b', 20_100).then(() => process.exit(3));
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'inherit', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  t.equal(code, 3, 'the exit code is the process’s own');
  t.same(
    decodeState(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')).snapshot.starts,
    [['mta-b', 20_100]],
    'the state written at exit',
  );
});

t.test('SIGTERM: a real process writes its state and still ends by the signal', async (t) => {
  const dir = tmpDir(t);
  const dist = path.resolve(__dirname, '../../dist/lib');
  const script = `
    const { MemoryStore } = require(${JSON.stringify(`${dist}/store/memory`)});
    const { persistMemory } = require(${JSON.stringify(`${dist}/store/open`)});
    // tap's processinfo preload follows spawned processes and listens for SIGTERM; Haraka
    // (not pid 1) does not, so the child drops those listeners to be like Haraka
    process.removeAllListeners('SIGTERM');
    const store = new MemoryStore();
    persistMemory(store, ${JSON.stringify(dir)}, () => undefined);
    store.saveWarmRecord({ source: 'mta-a', provider: 'google' }, { start: 1, step: 3, evaluated: 2, badDays: 0 })
      .then(() => { console.log('ready'); setInterval(() => undefined, 1000); });
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  await new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()),
  );
  t.notOk(fs.existsSync(path.join(dir, STATE_FILE)), 'nothing written yet (the periodic write is 2 s away)');
  child.kill('SIGTERM');
  const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
    child.once('exit', (c, s) => resolve([c, s])),
  );
  t.same([code, signal], [null, 'SIGTERM'], 'the process ended by SIGTERM, as without paceline');
  const { snapshot } = decodeState(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8'));
  t.same(
    snapshot.warm,
    [['mta-a|google', { start: 1, step: 3, evaluated: 2, badDays: 0 }]],
    'the state written on SIGTERM',
  );
});
