import t from 'tap';
import { DEFAULT_POLICY, emptyLane, type LaneLimits, type LaneState } from '../../lib/core/lane-state';
import { acquire, claim, earliestAt, normalize, release } from '../../lib/core/lane';
import { setFactor } from '../../lib/core/pace';
import { DAY_MS } from '../../lib/core/day';
import { parseRate, type Rate } from '../../lib/core/rate';

const rate = (s: string): Rate => parseRate(s) as Rate;
const T0 = 20_000 * DAY_MS + 3_600_000; // 01:00 UTC on some day
const req = (mode: 'now' | 'reserve', id = 'L') => ({ mode, leaseId: id, leaseMs: 600_000 });

/** Runs a sequence of acquires at given times; returns each result's kind and time. */
function run(limits: LaneLimits, times: number[], mode: 'now' | 'reserve'): { results: string[]; state: LaneState } {
  let state = emptyLane();
  const results: string[] = [];
  times.forEach((at, i) => {
    const step = acquire(state, limits, T0 + at, req(mode, `m${i}`));
    state = step.state;
    const r = step.result;
    results.push(r.kind === 'granted' ? 'granted' : `${r.kind}@${r.at - T0}${r.kind === 'wait' ? `:${r.reason}` : ''}`);
  });
  return { results, state };
}

t.test('rate: slots are spaced by the interval; burst lets N go at once', async (t) => {
  const table: Array<[string, LaneLimits, number[], 'now' | 'reserve', string[]]> = [
    [
      'strict spacing, now mode',
      { rate: rate('30/min') },
      [0, 0, 1000, 2000],
      'now',
      ['granted', 'wait@2000:rate', 'wait@2000:rate', 'granted'],
    ],
    [
      'reservations book consecutive future slots',
      { rate: rate('30/min') },
      [0, 0, 0, 0],
      'reserve',
      ['granted', 'reserved@2000', 'reserved@4000', 'reserved@6000'],
    ],
    [
      'burst of 3 then spacing',
      { rate: rate('60/min,burst=3') },
      [0, 0, 0, 0],
      'reserve',
      ['granted', 'granted', 'granted', 'reserved@1000'],
    ],
    [
      'idle time refills the burst but never beyond it',
      { rate: rate('60/min,burst=2') },
      [0, 60_000, 60_000, 60_000],
      'now',
      ['granted', 'granted', 'granted', 'wait@61000:rate'],
    ],
    ['unlimited lane always grants', {}, [0, 0, 0], 'now', ['granted', 'granted', 'granted']],
  ];
  for (const [name, limits, times, mode, want] of table) t.same(run(limits, times, mode).results, want, name);
});

t.test('concurrency: leases bound in-flight deliveries and free on release or expiry', async (t) => {
  const limits: LaneLimits = { concurrency: 2 };
  let s = emptyLane();
  s = acquire(s, limits, T0, req('now', 'a')).state;
  s = acquire(s, limits, T0, req('now', 'b')).state;
  const full = acquire(s, limits, T0, req('reserve', 'c'));
  t.equal(full.result.kind, 'wait', 'third in flight must wait, even in reserve mode');
  t.match(full.result, { reason: 'concurrency', at: T0 + 1000 }, 'waits the (initial) mean delivery time');
  s = release(s, limits, T0 + 5000, 'a', true, 5000);
  t.equal(s.leases.length, 1);
  t.equal(acquire(s, limits, T0 + 5000, req('now', 'c')).result.kind, 'granted', 'freed by release');
  t.ok(s.meanDeliveryMs > 1000, 'delivery time measured');
  const expired = acquire(acquire(emptyLane(), limits, T0, req('now', 'x')).state, limits, T0, req('now', 'y')).state;
  t.equal(acquire(expired, limits, T0 + 600_001, req('now', 'z')).result.kind, 'granted', 'expired leases never leak');
});

t.test('daily volume: capped per UTC day, rolls over at midnight', async (t) => {
  const limits: LaneLimits = { perDay: 2 };
  const { results, state } = run(limits, [0, 1, 2], 'reserve');
  const midnight = DAY_MS - 3_600_000; // from 01:00 to the next 00:00
  t.same(results, ['granted', 'granted', `wait@${midnight}:daily`]);
  t.equal(acquire(state, limits, T0 + midnight, req('now')).result.kind, 'granted', 'a new day has a new budget');
});

t.test('reservations never cross the day boundary', async (t) => {
  const limits: LaneLimits = { rate: rate('1/h') };
  let s = emptyLane();
  const late = T0 + 22 * 3_600_000 + 1_800_000; // 23:30
  s = acquire(s, limits, late, req('reserve')).state;
  const next = acquire(s, limits, late, req('reserve'));
  t.match(
    next.result,
    { kind: 'wait', reason: 'rate', at: late + 3_600_000 },
    'slot after midnight is not booked today',
  );
});

t.test('a raised rate speeds up what was booked at the old rate; a lowered one slows it', async (t) => {
  const slow: LaneLimits = { rate: rate('1/h') };
  let s = acquire(emptyLane(), slow, T0, req('now', 'a')).state;
  const booked: Array<{ slot: number; at: number }> = [];
  for (const id of ['b', 'c', 'd']) {
    const r = acquire(s, slow, T0, req('reserve', id));
    s = r.state;
    if (r.result.kind === 'reserved') booked.push(r.result);
  }
  t.same(
    booked.map((b) => b.at - T0),
    [3_600_000, 7_200_000, 10_800_000],
    'three booked an hour apart',
  );
  const fast: LaneLimits = { rate: rate('10/s') };
  const at = (limits: LaneLimits, when: number, slot: number) =>
    claim(s, limits, when, { slot, epoch: 0, leaseId: 'x', leaseMs: 1000 }).result;
  // at T0 + 1 s, 3599 s of the first hour are left: that share of the new 100 ms interval, then 100 ms apart
  const raised = booked.map((b) => at(fast, T0 + 1000, b.slot));
  t.ok(
    raised.every((r) => r.kind === 'wait' && r.reason === 'rate'),
    'still booked: they wait for their slots',
  );
  const offsets = raised.map((r) => (r.kind === 'wait' ? r.at - (T0 + 1000) : NaN));
  t.ok(
    offsets.every((o, i) => Math.abs(o - (99.97 + 100 * i)) < 0.1),
    `each leaves within 400 ms, in order, 100 ms apart: ${offsets.map((o) => o.toFixed(2)).join(', ')} ms`,
  );
  const cut = at({ rate: rate('1/day') }, T0 + 1000, booked[0]?.slot ?? 0);
  t.match(cut, { kind: 'wait', reason: 'rate' });
  t.ok(cut.kind === 'wait' && cut.at - T0 > 23 * 3_600_000, 'a rate cut to 1/day moves the first booking a day out');
  t.equal(acquire(s, {}, T0 + 1000, req('now')).result.kind, 'granted', 'without a rate nothing waits');
});

t.test('claim: a reserved message takes only a lease when its slot comes', async (t) => {
  const limits: LaneLimits = { rate: rate('30/min'), concurrency: 1 };
  let s = acquire(emptyLane(), limits, T0, req('now', 'a')).state;
  const r = acquire(s, limits, T0, req('reserve', 'b'));
  t.match(
    r.result,
    { kind: 'reserved', at: T0 + 2000, slot: T0 + 2000, epoch: 0 },
    'the rate slot is later than the concurrency estimate: book it, do not poll',
  );
  s = release(r.state, limits, T0 + 100, 'a', true, 100);
  t.match(
    claim(s, limits, T0 + 1500, { slot: T0 + 2000, epoch: 0, leaseId: 'b', leaseMs: 1000 }).result,
    { kind: 'wait', at: T0 + 2000 },
    'early return waits the rest',
  );
  const c = claim(s, limits, T0 + 2000, { slot: T0 + 2000, epoch: 0, leaseId: 'b', leaseMs: 1000 });
  t.equal(c.result.kind, 'granted');
  t.equal(c.state.tat, s.tat, 'claiming takes no second rate slot');
  const busy = acquire(
    acquire(emptyLane(), { concurrency: 1 }, T0, req('now', 'x')).state,
    { rate: rate('600/min'), concurrency: 1 },
    T0 + 50,
    req('reserve', 'y'),
  );
  t.match(
    busy.result,
    { kind: 'wait', reason: 'concurrency' },
    'when the concurrency slot frees later than the next rate slot, concurrency binds',
  );
  t.equal(c.state.dayCount, s.dayCount, 'nor a second daily count');
});

t.test('earliestAt ranks lanes for source choice', async (t) => {
  const limits: LaneLimits = { rate: rate('30/min') };
  const busy = acquire(emptyLane(), limits, T0, req('now')).state;
  t.equal(earliestAt(emptyLane(), limits, T0), T0);
  t.equal(earliestAt(busy, limits, T0), T0 + 2000);
  const full = acquire(emptyLane(), { perDay: 1 }, T0, req('now')).state;
  t.equal(earliestAt(full, { perDay: 1 }, T0), T0 + DAY_MS - 3_600_000);
});

t.test('a free slot is granted at once, whatever rounding the pace factor brings', async (t) => {
  // a pace factor of 0.1 × 1.5 = 0.15000000000000002 from +10 s (a start phase's growth step):
  // now's slot time mapped back to real time landed 0.0007 ms after now, a wait that Haraka
  // takes as a DELAY of 1 s
  // a start phase at 0.1 whose own growth is an hour away
  const policy = { ...DEFAULT_POLICY, start: 0.1, startIntervalMs: 3_600_000 };
  const limits: LaneLimits = { rate: rate('300/min,burst=10'), policy };
  let state = normalize(emptyLane(), limits, T0);
  const results: string[] = [];
  for (const at of [0, 2000, 4000, 6000, 8000, 10_000, 11_344, 12_688, 14_032]) {
    if (at === 10_000) setFactor(state, T0 + at, 0.1 * 1.5);
    const step = acquire(state, limits, T0 + at, req('now', `m${at}`));
    results.push(step.result.kind === 'granted' ? 'granted' : `+${at}: ${JSON.stringify(step.result)}`);
    state = release(step.state, limits, T0 + at + 50, `m${at}`, true, 50);
  }
  t.equal(state.factor, 0.15000000000000002);
  t.same(results, Array(9).fill('granted'), 'every request slower than the pace (1333 ms) is granted');
});
