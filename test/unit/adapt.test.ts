import t from 'tap';
import { DEFAULT_REACT, react, type ReactEvent } from '../../lib/core/adapt';
import { acquire, claim, concurrencyLimit, emptyLane, normalize, release, DEFAULT_POLICY, type LaneLimits, type LaneState } from '../../lib/core/lane';
import { DAY_MS } from '../../lib/core/day';
import { parseRate, type Rate } from '../../lib/core/rate';
import { emptyProvider, providerDelivered, providerGate, recordThrottle, takeProbe } from '../../lib/core/provider-state';

const T0 = 20_000 * DAY_MS + 3_600_000;
const limits: LaneLimits = { rate: parseRate('60/min') as Rate, concurrency: 10, policy: DEFAULT_POLICY };
const go = (s: LaneState, at: number, id = 'x') => acquire(s, limits, T0 + at, { mode: 'reserve', leaseId: id, leaseMs: 600_000 });
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
  const again = on(burst, DEFAULT_REACT.throttlePauseMs + DEFAULT_REACT.holdMs + 1, { category: 'throttle' });
  t.equal(again.effect, 'slowed');
  t.equal(again.state.factor, 0.25, 'a later burst halves again');
  let s = again.state;
  for (let i = 0; i < 10; i++) s = on(s, (i + 3) * (DEFAULT_REACT.throttlePauseMs + DEFAULT_REACT.holdMs + 1), { category: 'throttle' }).state;
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

t.test('a reaction voids earlier reservations: they book again at the new pace', async (t) => {
  let s = go(emptyLane(), 0).state;
  const booked = go(s, 0);
  t.match(booked.result, { kind: 'reserved', at: T0 + 1000, epoch: 0 });
  s = on(booked.state, 500, { category: 'throttle' }).state;
  const back = claim(s, limits, T0 + 1000, { reservedAt: T0 + 1000, epoch: 0, leaseId: 'y', leaseMs: 1000 });
  t.match(back.result, { kind: 'wait', reason: 'paused' }, 'no burst of stale bookings when the pause ends');
});

t.test('connections: cap concurrency at half of what was in flight, for a while', async (t) => {
  let s = emptyLane();
  for (let i = 0; i < 6; i++) s = acquire(s, { ...limits, rate: undefined }, T0, { mode: 'now', leaseId: `l${i}`, leaseMs: 600_000 }).state;
  const capped = on(s, 0, { category: 'connections', durationMs: 60_000 });
  t.equal(capped.effect, 'capped');
  t.equal(concurrencyLimit(capped.state, limits), 3);
  t.match(acquire(capped.state, { ...limits, rate: undefined }, T0 + 1, { mode: 'now', leaseId: 'z', leaseMs: 1 }).result, { kind: 'wait', reason: 'concurrency' });
  const later = go(capped.state, 60_000).state;
  t.equal(concurrencyLimit(later, limits), 10, 'cap ends after its duration');
});

t.test('suspend: pause for the rule duration, resume slowly', async (t) => {
  const s = on(emptyLane(), 0, { category: 'suspend', durationMs: 7_200_000 });
  t.equal(s.effect, 'suspended');
  t.match(go(s.state, 3_600_000).result, { kind: 'wait', reason: 'paused', at: T0 + 7_200_000 });
  const after = go(s.state, 7_200_000);
  t.equal(after.result.kind, 'granted');
  t.equal(after.state.factor, 0.5, 'resumes at a lowered pace');
});

t.test('blocked: stop, one probe per interval, a delivered probe unblocks', async (t) => {
  const b = on(emptyLane(), 0, { category: 'blocked' });
  t.equal(b.effect, 'blocked');
  t.match(go(b.state, 1000).result, { kind: 'wait', reason: 'blocked', at: T0 + 3_600_000 });
  const probe = go(b.state, 3_600_000);
  t.equal(probe.result.kind, 'granted', 'one probe');
  t.match(go(probe.state, 3_600_001, 'p2').result, { kind: 'wait', reason: 'blocked' }, 'only one');
  const failed = on(probe.state, 3_600_500, { category: 'blocked' });
  t.equal(failed.state.probeAt, T0 + 3_600_500 + 3_600_000, 'a rejected probe schedules the next');
  const ok = release(probe.state, limits, T0 + 3_601_000, 'x', true, 500);
  t.equal(ok.blockedAt, 0, 'accepted probe unblocks');
  t.equal(ok.factor, DEFAULT_REACT.floor, 'and the lane climbs back from the floor');
  t.match(go(ok, 3_601_000).result, { kind: 'reserved', at: T0 + 3_600_000 + 20_000 }, 'next message at the floor pace (1/s × 0.05)');
});

t.test('recipient, message, transient and unknown replies change nothing', async (t) => {
  for (const category of ['recipient', 'message', 'transient', 'unknown'] as const) {
    const r = on(emptyLane(), 0, { category });
    t.equal(r.effect, 'counted', category);
    t.same(r.state, normalize(emptyLane(), limits, T0, true), `${category}: state unchanged`);
  }
});

t.test('daily counters roll over into the previous day (for warm-up progression)', async (t) => {
  let s = go(emptyLane(), 0).state;
  s = on(s, 10, { category: 'throttle' }).state;
  const next = go(s, DAY_MS).state;
  t.match(next, { dayCount: 1, dayThrottles: 0, prevDay: s.day, prevDayCount: 1, prevDayThrottles: 1 });
});

t.test('provider-wide incident: most sources throttled in one window', async (t) => {
  const p = { windowMs: 300_000, minSources: 2, share: 0.5, pauseMs: 300_000, probeIntervalMs: 30_000 };
  const one = recordThrottle(emptyProvider(), 'a', 3, T0, p);
  t.equal(one.incident, false, 'one of three sources is that IP’s trouble');
  const late = recordThrottle(one.state, 'b', 3, T0 + 400_000, p);
  t.equal(late.incident, false, 'outside the window it does not count');
  const two = recordThrottle(late.state, 'c', 3, T0 + 400_001, p);
  t.equal(two.incident, true);
  t.same(two.explained, ['b', 'c']);
  t.same(providerGate(two.state, T0 + 500_000), { at: T0 + 700_001, probe: false }, 'paused');
  t.same(providerGate(two.state, T0 + 700_001), { at: T0 + 700_001, probe: true }, 'then probing');
  const probe = takeProbe(two.state, T0 + 700_001, p);
  t.equal(probe.ok, true);
  t.equal(takeProbe(probe.state, T0 + 700_002, p).ok, false, 'one probe per interval');
  t.equal(providerGate(providerDelivered(probe.state), T0 + 700_003), null, 'a delivery ends the incident');
  const after = providerDelivered(probe.state);
  const again = recordThrottle(recordThrottle(after, 'a', 3, T0 + 800_000, p).state, 'b', 3, T0 + 800_001, p);
  t.equal(again.incident, false, 'the same sources throttled again soon after: their own limits, not a new incident');
  const later = recordThrottle(recordThrottle(again.state, 'a', 3, T0 + 400_001 + 12 * 300_000, p).state, 'b', 3, T0 + 400_002 + 12 * 300_000, p);
  t.equal(later.incident, true, 'twelve windows later an incident can be declared again');
});
