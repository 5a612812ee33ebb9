/**
 * The memory store's cap on idle lanes (issue 11 item 7): 500,000 destinations,
 * each its own provider, through one store capped at 50,000 idle lanes. The
 * lane count stays under the cap (plus the lanes that may not go), and lanes
 * with a lease, a booking, a pause, a block, a lowered pace, a warm-up record
 * or today's per-day count all survive. Heap is measured with a forced GC.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import t from 'tap';
import { DEFAULT_REACT } from '../../lib/core/adapt';
import { parseRate, type Rate } from '../../lib/core/rate';
import type { LaneLimits } from '../../lib/core/lane-state';
import { MemoryStore } from '../../lib/store/memory';

const CAP = 50_000;
const DESTINATIONS = 500_000;
const T0 = Date.UTC(2026, 11, 3, 10, 0, 0);

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const heapMb = () => {
  gc();
  return process.memoryUsage().heapUsed / 1e6;
};

t.test(`${DESTINATIONS} destinations stay under a cap of ${CAP} idle lanes; protected lanes survive`, async (t) => {
  let now = T0;
  const store = new MemoryStore(() => now, { maxIdleLanes: CAP });
  const lane = (provider: string) => ({ source: 'mta-a', provider });
  const req = (id: string, mode: 'now' | 'reserve' = 'now') => ({ mode, leaseId: id, leaseMs: 900_000 });
  const open: LaneLimits = {};
  const slow: LaneLimits = { rate: parseRate('1/h') as Rate };
  const capped: LaneLimits = { perDay: 1000 };

  // the lanes that must never be evicted, used first (the least recently used of all)
  t.equal((await store.acquire(lane('leased'), open, req('L'))).value.kind, 'granted');
  await store.acquire(lane('booked'), slow, req('B1'));
  await store.release(lane('booked'), slow, 'B1', true);
  t.equal((await store.acquire(lane('booked'), slow, req('B2', 'reserve'))).value.kind, 'reserved');
  await store.react(lane('paused'), open, { category: 'suspend', durationMs: 7_200_000 }, DEFAULT_REACT);
  await store.react(lane('blocked'), open, { category: 'blocked' }, DEFAULT_REACT);
  await store.saveWarmRecord(lane('warming'), { start: 1, step: 2, evaluated: 1, badDays: 0 });
  await store.acquire(lane('warming'), open, req('W'));
  await store.release(lane('warming'), open, 'W', true);
  await store.acquire(lane('counted'), capped, req('C'));
  await store.release(lane('counted'), capped, 'C', true);
  const protectedLanes = ['leased', 'booked', 'paused', 'blocked', 'warming', 'counted'];

  const before = heapMb();
  let most = 0;
  for (let i = 0; i < DESTINATIONS; i++) {
    now += 1;
    const l = lane(`mx:mx${i}.dest${i}.test`);
    await store.acquire(l, open, req(`m${i}`));
    await store.release(l, open, `m${i}`, true, 300);
    if (store.laneCount > most) most = store.laneCount;
  }
  const after = heapMb();
  const perLane = ((after - before) * 1e6) / store.laneCount;
  // + 1: the lane of the delivery in flight holds a lease while its acquire runs
  t.ok(
    most <= CAP + protectedLanes.length + 1,
    `at most ${most} lanes at any time (cap ${CAP} idle + ${protectedLanes.length} protected + 1 in flight)`,
  );
  t.ok(store.laneCount >= CAP * 0.9, `the cap is used, not emptied: ${store.laneCount} lanes kept`);
  const kept = new Set((await store.lanes()).value.map((l) => l.lane.provider));
  for (const name of protectedLanes) t.ok(kept.has(name), `the ${name} lane survived ${DESTINATIONS} destinations`);
  t.ok(kept.has(`mx:mx${DESTINATIONS - 1}.dest${DESTINATIONS - 1}.test`), 'the most recent lane is kept');
  t.notOk(kept.has('mx:mx0.dest0.test'), 'the least recently used idle lanes went first');
  t.ok(
    after - before < 100,
    `heap grew ${(after - before).toFixed(1)} MB for ${store.laneCount} lanes (${perLane.toFixed(0)} B a lane)`,
  );
  t.comment(
    `heap ${before.toFixed(1)} MB before, ${after.toFixed(1)} MB after; ${most} lanes at most, ${store.laneCount} at the end`,
  );
});

t.test('an idle lane that was protected becomes evictable once nothing is in force', async (t) => {
  let now = T0;
  const store = new MemoryStore(() => now, { maxIdleLanes: 10 });
  const lane = (provider: string) => ({ source: 'mta-a', provider });
  await store.react(lane('paused'), {}, { category: 'throttle' }, { ...DEFAULT_REACT, throttlePauseMs: 60_000 });
  for (let i = 0; i < 30; i++, now += 2000)
    await store.acquire(lane(`d${i}`), {}, { mode: 'now', leaseId: `x${i}`, leaseMs: 1000 });
  t.ok(
    (await store.lanes()).value.some((l) => l.lane.provider === 'paused'),
    'kept while paused (and slowed)',
  );
  now += 3 * 86_400_000; // the pause is long over; the 48 h sweep forgets it
  for (let i = 30; i < 60; i++, now += 2000)
    await store.acquire(lane(`d${i}`), {}, { mode: 'now', leaseId: `x${i}`, leaseMs: 1000 });
  t.notOk(
    (await store.lanes()).value.some((l) => l.lane.provider === 'paused'),
    'forgotten once idle for two days',
  );
  t.ok(store.laneCount <= 10 + 1, `${store.laneCount} lanes (cap 10 + 1 in flight)`);
});

t.test('an evicted lane takes its history with it; a kept lane keeps its own', async (t) => {
  let now = T0;
  const store = new MemoryStore(() => now, { maxIdleLanes: 10 });
  const lane = (provider: string) => ({ source: 'mta-a', provider });
  await store.react(lane('paused'), {}, { category: 'suspend', durationMs: 7_200_000 }, DEFAULT_REACT);
  for (let i = 0; i < 30; i++, now += 1000) {
    const l = lane(`d${i}`);
    await store.acquire(l, {}, { mode: 'now', leaseId: `x${i}`, leaseMs: 60_000 });
    await store.release(l, {}, `x${i}`, true, 300);
    await store.tally(l, ['attempts', 'delivered'], 0);
  }
  await store.tally(lane('paused'), ['attempts', 'deferred:suspend'], 0);
  const kept = new Set((await store.lanes()).value.map((l) => l.lane.provider));
  t.notOk(kept.has('d0'), 'the least recently used idle lane was evicted');
  const [evicted, recent, paused] = (await store.histories([lane('d0'), lane('d29'), lane('paused')])).value;
  t.same(evicted, { minutes: [], days: [] }, 'and its history is gone');
  t.same(
    recent?.minutes.map((m) => m.counts),
    [{ attempts: 1, delivered: 1 }],
    'a lane still kept has its history',
  );
  t.same(
    paused?.minutes.map((m) => m.counts),
    [{ attempts: 1, 'deferred:suspend': 1 }],
    'the suspended lane (never evicted) keeps its history',
  );
});
