import t from 'tap';
import { DEFAULT_REACT, react, type ReactEvent } from '../../lib/core/adapt';
import { emptyLane, DEFAULT_POLICY, type LaneLimits, type LaneState } from '../../lib/core/lane-state';
import { concurrencyLimit } from '../../lib/core/throttle';
import { acquire, claim, normalize, release } from '../../lib/core/lane';
import { DAY_MS } from '../../lib/core/day';
import { parseRate, type Rate } from '../../lib/core/rate';

const T0 = 20_000 * DAY_MS + 3_600_000;
const limits: LaneLimits = { rate: parseRate('60/min') as Rate, concurrency: 10, policy: DEFAULT_POLICY };
const go = (s: LaneState, at: number, id = 'x') =>
  acquire(s, limits, T0 + at, { mode: 'reserve', leaseId: id, leaseMs: 600_000 });
const on = (s: LaneState, at: number, event: ReactEvent) => react(s, limits, T0 + at, event);

t.test('throttle: halve the pace, pause, one reaction per burst', async (t) => {
  const a = on(emptyLane(), 0, { category: 'throttle' });
  t.equal(a.effect, 'slowed');
  t.equal(a.state.factor, 0.5);
  t.equal(a.state.pauseUntil, T0 + DEFAULT_REACT.throttlePauseMs);
  t.equal(a.state.dayThrottles, 1);
  const burst = [1, 2, 3].reduce((s, i) => on(s, i * 100, { category: 'throttle' }).state, a.state);
  t.equal(burst.factor, 0.5, 'fifty 451s at once are one event');
  t.equal(burst.dayThrottles, 4, 'but every reply is counted');
  const again = on(burst, DEFAULT_REACT.throttlePauseMs + DEFAULT_REACT.sameEventMs + 1, { category: 'throttle' });
  t.equal(
    again.effect,
    'overshot',
    'refused again within SETTLE_MS of reopening: still finding its pace, no incident evidence',
  );
  t.equal(again.state.factor, 0.25, 'a later burst halves again');
  let s = again.state;
  for (let i = 0; i < 10; i++)
    s = on(s, (i + 3) * (DEFAULT_REACT.throttlePauseMs + DEFAULT_REACT.sameEventMs + 1), {
      category: 'throttle',
    }).state;
  t.equal(s.factor, DEFAULT_REACT.floor, 'never below the floor');
});

t.test('a throttled lane waits out its pause, then sends at the lowered pace', async (t) => {
  const s = on(emptyLane(), 0, { category: 'throttle' }).state;
  t.match(go(s, 1000).result, { kind: 'wait', reason: 'paused', at: T0 + 60_000 });
  const first = go(s, 60_000);
  t.equal(first.result.kind, 'granted');
  t.match(go(first.state, 60_000).result, { kind: 'reserved', at: T0 + 62_000 }, '1/s halved: one per 2 s');
  t.equal(concurrencyLimit(first.state, limits), 5, 'concurrency scaled by the factor too');
});

t.test('recovery is additive, one step per clean interval, never a snap back', async (t) => {
  const s = on(emptyLane(), 0, { category: 'throttle' }).state; // factor 0.5, recoverAt = pause + 5 min
  const recoverAt = s.recoverAt;
  t.equal(recoverAt, T0 + 60_000 + 300_000);
  const just = go(s, recoverAt - T0 - 1).state;
  t.equal(just.factor, 0.5, 'no change before the first clean interval');
  const one = go(s, recoverAt - T0).state;
  t.equal(one.factor, 0.6, 'one step');
  const three = go(s, recoverAt - T0 + 2 * 300_000).state;
  t.ok(Math.abs(three.factor - 0.8) < 1e-9, 'three steps after three intervals');
  const full = go(s, recoverAt - T0 + 20 * 300_000).state;
  t.equal(full.factor, 1, 'back to the configured limit, not beyond');
  t.equal(full.recoverAt, 0);
});

t.test('a reaction moves earlier bookings on by the pause and the lower pace, in order', async (t) => {
  let s = go(emptyLane(), 0).state;
  const first = go(s, 0);
  const second = go(first.state, 0);
  t.match(
    [first.result, second.result],
    [
      { kind: 'reserved', at: T0 + 1000, slot: T0 + 1000 },
      { kind: 'reserved', at: T0 + 2000, slot: T0 + 2000 },
    ],
  );
  s = on(second.state, 500, { category: 'throttle' }).state; // 60 s pause, then half the pace
  const slotOf = (r: typeof first.result) => (r.kind === 'reserved' ? r.slot : 0);
  const back = (slot: number, at: number) =>
    claim(s, limits, T0 + at, { slot, epoch: 0, leaseId: 'y', leaseMs: 1000 }).result;
  t.match(
    back(slotOf(first.result), 1000),
    { kind: 'wait', reason: 'rate', at: T0 + 60_500 + 1000 },
    'the first booking: the pause, then its place at half the pace',
  );
  t.match(
    back(slotOf(second.result), 1000),
    { kind: 'wait', reason: 'rate', at: T0 + 60_500 + 3000 },
    'the second keeps its place behind it',
  );
  t.match(go(s, 60_500).result, { kind: 'reserved', at: T0 + 60_500 + 5000 }, 'a new booking goes after both');
});

t.test('a recovered pace brings booked slots earlier', async (t) => {
  let s = on(emptyLane(), 0, { category: 'throttle' }).state; // factor 0.5 until the first clean interval
  const booked: number[] = [];
  for (let i = 0; i < 300; i++) {
    const r = go(s, 60_000, `m${i}`);
    s = r.state;
    if (r.result.kind === 'reserved') booked.push(r.result.slot);
  }
  const last = booked[booked.length - 1] as number;
  const before = claim(s, limits, T0 + 61_000, { slot: last, epoch: 0, leaseId: 'z', leaseMs: 1000 }).result;
  const after = claim(s, limits, T0 + s.recoverAt - T0, { slot: last, epoch: 0, leaseId: 'z', leaseMs: 1000 }).result;
  t.match(before, { kind: 'wait', reason: 'rate' });
  t.match(after, { kind: 'wait', reason: 'rate' });
  const due = (r: typeof before) => (r.kind === 'wait' ? r.at : 0);
  t.ok(
    due(after) < due(before),
    `the last of 300 bookings comes earlier once the pace recovers (${due(before) - T0} → ${due(after) - T0} ms)`,
  );
});

t.test(
  'the pace after a throttle is a share of what the provider accepted; climbing above it overshoots',
  async (t) => {
    let s = emptyLane();
    for (let i = 0; i < 12; i++) {
      s = acquire(s, limits, T0 + i * 1000, { mode: 'now', leaseId: `d${i}`, leaseMs: 600_000 }).state;
      s = release(s, limits, T0 + i * 1000 + 500, `d${i}`, true, 500);
    }
    const r = on(s, 12_000, { category: 'throttle' });
    t.equal(r.effect, 'slowed');
    t.ok(
      Math.abs(r.state.factor - 0.9 * (12 / 60)) < 1e-9,
      `12 accepted in the last minute of 60/min: factor ${r.state.factor} = 0.9 × 12/60`,
    );
    t.equal(r.state.known, r.state.factor, 'remembered as the known-good pace');
    t.equal(
      r.state.climbMs,
      DEFAULT_REACT.throttlePauseMs / DEFAULT_REACT.climbCost,
      'climbs wait ten times the pause it cost',
    );
    const climbed = normalize(r.state, limits, r.state.recoverAt + 1);
    t.ok(climbed.factor > r.state.known, 'after a clean interval it climbs above the known-good pace');
    t.ok(Math.abs(climbed.factor - r.state.known * (1 + DEFAULT_POLICY.climbStep)) < 1e-9, 'by one climb step');
    const over = react(climbed, limits, r.state.recoverAt + 2, { category: 'throttle' });
    t.equal(over.effect, 'overshot', 'refused while climbing: its own limit, not a provider incident');
  },
);

t.test('a lane refused again and again at its first climb step waits longer each time before the next', async (t) => {
  let s = emptyLane();
  for (let i = 0; i < 12; i++) {
    s = acquire(s, limits, T0 + i * 1000, { mode: 'now', leaseId: `d${i}`, leaseMs: 600_000 }).state;
    s = release(s, limits, T0 + i * 1000 + 500, `d${i}`, true, 500);
  }
  s = on(s, 12_000, { category: 'throttle' }).state;
  const known = s.known;
  const base = DEFAULT_REACT.throttlePauseMs / DEFAULT_REACT.climbCost;
  const waits: number[] = [];
  const gaps: number[] = [];
  for (let i = 0; i < 6; i++) {
    // the first climb step above the known-good pace, refused at once
    const climbed = normalize(s, limits, s.recoverAt + 1);
    t.equal(climbed.climbs, 1, `refusal ${i + 1}: at the first climb step`);
    const r = react(climbed, limits, s.recoverAt + 2, { category: 'throttle' });
    t.equal(r.effect, 'overshot');
    t.equal(r.state.known, known, 'back to the same known-good pace');
    waits.push(r.state.climbMs);
    gaps.push(r.state.recoverAt - r.state.pauseUntil);
    s = r.state;
  }
  t.same(
    waits,
    [2, 4, 8, 8, 8, 8].map((k) => k * base),
    'the wait doubles at each refusal of the same step, up to 8 × pause ÷ climb_cost',
  );
  t.same(gaps, waits, 'and the next climb comes that long after the pause, not one recover_interval after it');
  // two clean steps, then a refusal: a new known-good pace, and climbs wait the pause ÷ climb_cost again
  let up = normalize(s, limits, s.recoverAt + 1);
  up = normalize(up, limits, up.recoverAt + 1);
  t.equal(up.climbs, 2, 'two clean climb steps');
  const r = react(up, limits, up.recoverAt - 1, { category: 'throttle' });
  t.ok(r.state.known > known, 'the step that ran clean is the known-good pace now');
  t.equal(r.state.climbMs, base, 'a new pace: climbs wait the pause ÷ climb_cost again');
});

t.test(
  'booked messages far behind their slots book again when the departure is taken; on a free lane they go',
  async (t) => {
    let s = acquire(emptyLane(), limits, T0, { mode: 'now', leaseId: 'a', leaseMs: 600_000 }).state;
    const slots: number[] = [];
    for (const id of ['b', 'c']) {
      const r = acquire(s, limits, T0, { mode: 'reserve', leaseId: id, leaseMs: 600_000 });
      s = r.state;
      slots.push(r.result.kind === 'reserved' ? r.result.slot : 0);
    }
    const b = claim(s, limits, T0 + 45_000, { slot: slots[0] as number, epoch: 0, leaseId: 'b', leaseMs: 600_000 });
    t.match(b.result, { kind: 'granted' }, 'a late message on a free lane simply goes');
    const c = claim(b.state, limits, T0 + 45_000, {
      slot: slots[1] as number,
      epoch: 0,
      leaseId: 'c',
      leaseMs: 600_000,
    });
    t.match(
      c.result,
      { kind: 'reserved', at: T0 + 46_000 },
      'the next late one books a fresh slot instead of crowding every departure',
    );
    t.equal(c.state.dayCount, b.state.dayCount, 'counted for the day once');
  },
);
