/**
 * The start phase and the reactions that judge a refusal by when the refused
 * message was sent (lib/core/start.ts, lib/core/adapt.ts): table-driven, the
 * clock passed in.
 */
import t from 'tap';
import { DEFAULT_REACT, extendedPauseMs, react, sustainedSessions, type ReactEvent } from '../../lib/core/adapt';
import { emptyLane, DEFAULT_POLICY, type LaneLimits, type LaneState } from '../../lib/core/lane-state';
import { concurrencyLimit } from '../../lib/core/throttle';
import { acquire, normalize, release } from '../../lib/core/lane';
import { DAY_MS } from '../../lib/core/day';
import { parseRate, type Rate } from '../../lib/core/rate';
import { GROWTH_EVIDENCE, START_GROWTH, startEndedAt, startShare } from '../../lib/core/start';

const T0 = 20_000 * DAY_MS + 3_600_000;
const policy = { ...DEFAULT_POLICY, start: 0.1, startIntervalMs: 10_000 };
const limits: LaneLimits = { rate: parseRate('300/min,burst=10') as Rate, concurrency: 10, policy };
/** The reactions below the start phase's tests are about any lane: no start phase. */
const steady: LaneLimits = { ...limits, policy: DEFAULT_POLICY };
let current = limits;
const send = (s: LaneState, at: number, id: string) =>
  acquire(s, current, T0 + at, { mode: 'now', leaseId: id, leaseMs: 600_000 });
const done = (s: LaneState, at: number, id: string, delivered = true) =>
  release(s, current, T0 + at, id, delivered, 50);
const on = (s: LaneState, at: number, event: ReactEvent) => react(s, current, T0 + at, event);

/** Sends and delivers `n` messages from `from` ms on, one per `every` ms; returns the state. */
function traffic(s: LaneState, from: number, n: number, every: number): LaneState {
  for (let i = 0; i < n; i++) {
    const at = from + i * every;
    const r = send(s, at, `m${at}`);
    if (r.result.kind !== 'granted') throw new Error(`not granted at +${at}: ${JSON.stringify(r.result)}`);
    s = done(r.state, at + 50, `m${at}`);
  }
  return s;
}

t.test('a fresh lane begins at `start` of its pace, its concurrency scaled with it', async (t) => {
  const s = normalize(emptyLane(), limits, T0);
  t.equal(s.factor, 0.1);
  t.equal(s.growAt, T0 + 10_000);
  t.equal(concurrencyLimit(s, limits), 2, '10 x 0.1 = 1, but the pace itself needs 2 (Little)');
  t.equal(
    normalize(emptyLane(), { ...limits, policy: DEFAULT_POLICY }, T0).factor,
    1,
    'no start phase without a start policy',
  );
});

t.test('startShare: never slower than one message per start interval; nothing to find without limits', async (t) => {
  const cases: Array<[string, LaneLimits, number]> = [
    ['5/s', limits, 0.1],
    ['1/s: 10 per interval', { rate: parseRate('60/min') as Rate, policy }, 0.1],
    ['12/min: one per 5 s', { rate: parseRate('12/min') as Rate, policy }, 0.5],
    ['8/day (a warm-up cap)', { rate: parseRate('8/day') as Rate, policy }, 1],
    ['concurrency only', { concurrency: 10, policy }, 0.1],
    ['no limits', { policy }, 1],
  ];
  for (const [name, l, want] of cases) t.equal(startShare(l, policy), want, name);
});

/** What 300/min at `factor` allows in a 10 s interval. */
const allowed = (factor: number): number => Math.floor(factor * 50);

t.test('the pace grows by START_GROWTH after each interval it was used, up to the configured pace', async (t) => {
  t.equal(START_GROWTH, 1.5);
  let s = normalize(emptyLane(), limits, T0); // 0.5/s
  let want = 0.1;
  let at = 0;
  while (want < 1) {
    // all the pace allowed, a little slower than its interval (200 ms / factor at 300/min)
    s = traffic(s, at, allowed(want), Math.ceil(200 / want) + 10);
    at += 10_000;
    s = normalize(s, limits, T0 + at);
    want = Math.min(1, want * START_GROWTH);
    t.ok(Math.abs(s.factor - want) < 1e-12, `+${at / 1000} s: ${s.factor} = ${want}`);
    t.equal(s.grown, 0, 'the next interval is judged afresh');
  }
  t.equal(at, 60_000, 'from a tenth to the configured pace in six intervals');
  t.equal(startEndedAt(s), T0 + at, 'the start phase is over, and the lane knows since when');
});

t.test('no growth without evidence: a pace the lane did not use does not grow', async (t) => {
  let s = normalize(emptyLane(), limits, T0);
  const needed = Math.floor(GROWTH_EVIDENCE * 5);
  s = traffic(s, 0, needed - 1, 2000);
  s = normalize(s, limits, T0 + 10_000);
  t.equal(s.factor, 0.1, `${needed - 1} accepted of 5 allowed: no step`);
  t.equal(s.growAt, T0 + 20_000, 'the next interval is judged afresh');
  t.equal(s.grown, 0);
});

t.test(
  'the first refusal ends the start phase at the pace before the last growth step; never an incident',
  async (t) => {
    let s = normalize(emptyLane(), limits, T0);
    s = traffic(s, 0, 5, 2000);
    s = traffic(normalize(s, limits, T0 + 10_000), 10_000, 7, 1400); // factor 0.15, used in full
    const r = send(s, 20_100, 'x'); // the step due at +20 s takes it to 0.225
    t.ok(Math.abs(r.state.factor - 0.225) < 1e-12, `grown to 0.225 (${r.state.factor})`);
    const a = on(done(r.state, 20_150, 'x', false), 20_150, { category: 'throttle', sentAt: T0 + 20_100 });
    t.equal(a.effect, 'overshot');
    t.ok(Math.abs(a.state.factor - 0.15) < 1e-12, `back to the pace that ran clean (${a.state.factor})`);
    t.equal(a.state.known, a.state.factor, 'remembered as the known-good pace');
    t.equal(startEndedAt(a.state), T0 + 20_150);
    t.equal(a.state.pauseUntil, T0 + 20_150 + DEFAULT_REACT.throttlePauseMs);
  },
);

t.test('replies to messages sent before the lane reopened are the same event', async (t) => {
  current = steady;
  const first = on(emptyLane(), 0, { category: 'throttle', sentAt: T0 - 100 });
  t.equal(first.effect, 'slowed');
  const reopen = first.state.pauseUntil;
  const late = on(first.state, reopen - T0 + 5_000, { category: 'throttle', sentAt: T0 - 50 });
  t.equal(late.effect, 'grouped', 'sent before the reaction, answered after the pause: the same event');
  t.equal(late.state.factor, first.state.factor);
});

t.test('refused again after reopening, before anything was accepted: the pause doubles, the pace stays', async (t) => {
  let s = on(emptyLane(), 0, { category: 'throttle', sentAt: T0 - 100 }).state; // factor 0.5, pause 1 min
  const factor = s.factor;
  let at = s.pauseUntil - T0;
  const pauses: number[] = [];
  for (let i = 0; i < 10; i++) {
    const r = on(s, at + 30, { category: 'throttle', sentAt: T0 + at });
    t.equal(r.effect, 'extended');
    pauses.push(r.state.pauseUntil - (T0 + at + 30));
    s = r.state;
    at = s.pauseUntil - T0;
  }
  t.same(
    pauses,
    [120_000, 120_000, 120_000, 240_000, 240_000, 480_000, 480_000, 900_000, 900_000, 900_000],
    'doubling up to throttle_pause_max, each doubled pause after the first in two halves',
  );
  t.equal(s.factor, factor, 'the pace is kept: the provider has not seen it yet');
  const capped = on(on(emptyLane(), 0, { category: 'throttle', sentAt: T0 - 1 }).state, 60_030, {
    category: 'throttle',
    sentAt: T0 + 60_000,
    durationMs: 90_000,
  });
  t.equal(capped.state.pauseUntil, T0 + 60_030 + 90_000, "a rule's duration caps the growth");
  s = done(send(s, at, 'ok').state, at + 50, 'ok');
  const later = on(s, at + 70_000, { category: 'throttle', sentAt: T0 + at + 69_000 });
  t.equal(
    later.effect,
    'overshot',
    'after an accepted delivery, a refusal cuts the pace again (within SETTLE_MS of reopening: overshot)',
  );
  t.equal(later.state.backoffs, 0);
  t.equal(later.state.pauseUntil, T0 + at + 70_000 + DEFAULT_REACT.throttlePauseMs, 'and the pause starts short again');
});

t.test(
  'extended pauses in halves: the lane still probes at every time doubling alone would, and once between',
  async (t) => {
    const maxMs = DEFAULT_REACT.throttlePauseMaxMs;
    const probes = (pause: (b: number) => number): number[] => {
      const at = [DEFAULT_REACT.throttlePauseMs];
      for (let b = 1; at.length < 40; b++) at.push((at.at(-1) as number) + pause(b));
      return at;
    };
    const halves = probes((b) => extendedPauseMs(b, DEFAULT_REACT, maxMs));
    const doubling = probes((b) => Math.min(maxMs, DEFAULT_REACT.throttlePauseMs * 2 ** b)).filter(
      (x) => x <= (halves.at(-1) as number),
    );
    t.ok(doubling.length > 5);
    t.same(
      doubling.filter((x) => !halves.includes(x)),
      [],
      'every probe of doubling alone is a probe',
    );
    for (let i = 2; i < halves.length; i++) {
      const wait = (halves[i] as number) - (halves[i - 1] as number);
      const since = (halves[i - 1] as number) - DEFAULT_REACT.throttlePauseMs;
      t.ok(
        wait <= Math.max(2 * DEFAULT_REACT.throttlePauseMs, since),
        `probe ${i}: waits no longer than it has been refused`,
      );
    }
  },
);

t.test('a refusal while other deliveries of the lane are open caps its sessions, not its pace', async (t) => {
  let s = emptyLane();
  for (const id of ['a', 'b', 'c']) s = send(s, 0, id).state;
  s = done(s, 10, 'c', false);
  const r = on(s, 10, { category: 'throttle', sentAt: T0 });
  t.equal(r.effect, 'capped');
  t.equal(r.state.connCap, 2, 'two were open and accepted');
  t.equal(r.state.factor, 1);
  t.equal(concurrencyLimit(r.state, limits), 2);
  t.equal(r.state.connCapUntil, T0 + 10 + DEFAULT_REACT.connectionsMs);
  const alone = on({ ...r.state, leases: [] }, 20, { category: 'throttle', sentAt: T0 + 15 });
  t.equal(alone.effect, 'slowed', 'refused with nothing else open: the pace');
});

t.test(
  'a refusal with fewer open than the provider was accepting at once is the pace, not a session limit',
  async (t) => {
    // the 12 h simulator's Microsoft-like lane: no session limit, a per-minute window, about
    // 2.5 accepted per second of 0.9 s each: 2.25 open on average, so 1 or 2 open at a refusal
    let s = emptyLane();
    for (let i = 0; i < 150; i++) {
      const at = i * 400;
      s = send(s, at, `m${i}`).state;
      s = release(s, current, T0 + at + 900, `m${i}`, true, 900);
    }
    t.ok(Math.abs(sustainedSessions(s, T0 + 60_000) - 2.25) < 0.1, `2.25 sessions sustained`);
    for (const id of ['a', 'b']) s = send(s, 60_000, id).state;
    const two = on(s, 60_100, { category: 'throttle', sentAt: T0 + 60_000 });
    t.equal(two.effect, 'slowed', 'two open while 2.25 were accepted at once: the pace');
    t.equal(two.state.connCap, 0, 'the sessions are not capped');
    t.ok(two.state.factor < 1, 'the pace is cut');
    const three = on(send(s, 60_000, 'c').state, 60_100, { category: 'throttle', sentAt: T0 + 60_000 });
    t.equal(three.effect, 'capped', 'three open, more than the provider had been accepting at once: maybe sessions');
    t.equal(three.state.connCap, 3);
  },
);

t.test('a suspension in the start phase resumes below what the provider accepted', async (t) => {
  // 300/min configured, a provider that takes 30 a minute: the start phase grew to 0.3375
  // (101/min) and was suspended; the pace before the last step (0.225, 67/min) is twice the limit
  const before = current;
  current = limits;
  t.teardown(() => void (current = before));
  let s = traffic(emptyLane(), 0, 5, 2000); // at 0.1 (30/min)
  s = traffic(s, 10_000, 7, 1400); // grown to 0.15
  s = traffic(s, 20_000, 11, 900); // grown to 0.225
  s = traffic(s, 30_000, 7, 600); // grown to 0.3375; 30 accepted in all
  t.ok(Math.abs(s.factor - 0.3375) < 1e-12, `the start phase reached 0.3375 (${s.factor})`);
  const r = on(s, 34_000, { category: 'suspend', durationMs: 7_200_000 });
  t.equal(r.effect, 'suspended');
  t.ok(Math.abs(r.state.factor - 0.9 * 0.1) < 1e-12, `0.9 x the 30 a minute accepted (${r.state.factor})`);
  t.equal(r.state.known, r.state.factor, 'remembered as the known-good pace');
  t.equal(startEndedAt(r.state), T0 + 34_000, 'the start phase is over');
  t.equal(r.state.pauseUntil, T0 + 34_000 + 7_200_000);
  const throttled = on(s, 34_000, { category: 'throttle', sentAt: T0 + 33_000 });
  t.ok(
    Math.abs(throttled.state.factor - 0.225) < 1e-12,
    `a throttle (a pause of seconds) still goes back to the pace before the last step (${throttled.state.factor})`,
  );
});

t.test('the accepted share is learnt only from a sample as long as the minute it measures', async (t) => {
  // a lane reopened 20 s ago and refused: what it delivered in 20 s is no per-minute limit
  let s = on(emptyLane(), 0, { category: 'throttle', sentAt: T0 - 100 }).state; // 0.5, reopens at +60 s
  s = traffic(s, 60_000, 10, 2000);
  const short = on(s, 80_000, { category: 'throttle', sentAt: T0 + 79_900 });
  t.equal(short.state.factor, 0.25, 'x decrease, not the share of 10 in 20 s');
  s = traffic(s, 80_000, 30, 2000); // open for 80 s in all
  const long = on(s, 141_000, { category: 'throttle', sentAt: T0 + 140_900 });
  // about 30 accepted in the last minute of a 300/min lane: 0.9 x 0.1
  t.ok(
    long.state.factor > 0.08 && long.state.factor < 0.1,
    `accepted share over a whole minute (${long.state.factor})`,
  );
});

t.test('refused while climbing: back to the pace before the last climb step, the new known-good pace', async (t) => {
  current = steady;
  const s: LaneState = {
    ...emptyLane(),
    factor: 0.5 * 1.05 * 1.1,
    known: 0.5,
    climbs: 2,
    sameEventUntil: T0 - 600_000,
    acceptedAt: T0 - 1000,
    day: 0,
  };
  const r = on(s, 0, { category: 'throttle', sentAt: T0 - 10 });
  t.equal(r.effect, 'overshot');
  t.ok(Math.abs(r.state.factor - 0.5 * 1.05) < 1e-12, `the last step (+10 %) undone: ${r.state.factor}`);
  t.equal(r.state.known, r.state.factor, 'a limit that grew is remembered higher');
  const first = on({ ...s, factor: 0.5 * 1.05, climbs: 1 }, 0, { category: 'throttle', sentAt: T0 - 10 });
  t.ok(Math.abs(first.state.factor - 0.5) < 1e-12, 'refused on the first climb step: back to the known-good pace');
});
