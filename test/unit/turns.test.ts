import t from 'tap';
import { emptyLane, type LaneState } from '../../lib/core/lane-state';
import {
  nextTurn,
  ON_TURN_MS,
  slotEnds,
  TURN_MIN_MS,
  turnLateMs,
  turnRetryMs,
  turnSpacingMs,
} from '../../lib/core/turn';
import type { Decision, Ticket } from '../../lib/engine/engine';
import { rig } from '../helpers/fakes';

const NOW = Date.UTC(2026, 10, 26, 1, 0, 0);
const TTL = 60_000;

/** A lane with leases that began at the given offsets from NOW (ms) and the given mean delivery time. */
function lane(startedAgo: number[], meanDeliveryMs: number): LaneState {
  const leases = startedAgo.map((ago, i) => ({ id: `l${i}`, expiresAt: NOW - ago + TTL }));
  return { ...emptyLane(), leases, meanDeliveryMs };
}

t.test('turn spacing: the mean delivery time shared by the slots in force', async (t) => {
  t.equal(turnSpacingMs(lane([], 2000), { concurrency: 4 }), 500);
  t.equal(turnSpacingMs(lane([], 30_000), { concurrency: 3 }), 10_000, 'any delivery time');
  t.equal(
    turnSpacingMs({ ...lane([], 2000), factor: 0.5 }, { concurrency: 4 }),
    1000,
    'a lowered pace has fewer slots',
  );
  t.equal(turnSpacingMs({ ...lane([], 2000), connCap: 1 }, { concurrency: 4 }), 2000, 'a connection cap too');
});

t.test('retry of a message whose turn came to a full lane: the spacing, 50 ms to 1 s', async (t) => {
  t.same([10, 500, 1000, 10_000].map(turnRetryMs), [TURN_MIN_MS, 500, 1000, 1000]);
});

t.test('late: as a booked rate slot (30 s), or a delivery time if longer', async (t) => {
  t.equal(turnLateMs(lane([], 200)), 30_000);
  t.equal(turnLateMs(lane([], 45_000)), 45_000);
});

t.test('slot ends: each lease start plus the mean delivery time, one per slot', async (t) => {
  const limits = { concurrency: 4 };
  const rows: Array<[string, LaneState, number, number[]]> = [
    ['staggered leases end staggered', lane([0, 500, 1000, 1500], 2000), Infinity, [500, 1000, 1500, 2000]],
    [
      'leases that began together (a restart) end together',
      lane([0, 0, 0, 0], 2000),
      Infinity,
      [2000, 2000, 2000, 2000],
    ],
    [
      'fewer leases than slots: the others were taken since the peek, just now',
      lane([0, 100], 2000),
      Infinity,
      [1900, 2000, 2000, 2000],
    ],
    [
      'an overdue delivery: at once, but not sooner than 50 ms',
      lane([5000, 0, 0, 0], 2000),
      Infinity,
      [TURN_MIN_MS, 2000, 2000, 2000],
    ],
    ['the store knows a lease that expires sooner', lane([0, 0, 0, 0], 2000), NOW + 700, [700, 2000, 2000, 2000]],
    ['30 s deliveries', lane([0, 10_000, 20_000, 29_000], 30_000), Infinity, [1000, 10_000, 20_000, 30_000]],
  ];
  for (const [what, state, freeAt, inMs] of rows)
    t.same(
      slotEnds(state, limits, TTL, NOW, freeAt).map((at) => at - NOW),
      inMs,
      what,
    );
  t.same(slotEnds({ ...lane([0, 0], 2000), connCap: 2 }, limits, TTL, NOW).length, 2, 'one per slot in force');
});

t.test('next turn: the slot that frees first, a place kept, a late one queued again', async (t) => {
  const at = (ms: number) => NOW + ms;
  const state = lane([], 2000);
  const limits = { concurrency: 2 };
  const ends = [at(500), at(2000)];
  // [what, prior turn, queue, expected turn at / due, expected queue] (ms from NOW)
  type Row = [string, { at: number; due: number } | undefined, number[], [number, number], number[]];
  const rows: Row[] = [
    ['first of a full lane: the soonest end', undefined, [], [500, 500], [2000, 2500]],
    ['then the next slot to free', undefined, [2000, 2500], [2000, 2000], [2500, 4000]],
    ['slots that free together give their turns together', undefined, [2000, 2000], [2000, 2000], [2000, 4000]],
    ['a queue in the past: the slot ends again', undefined, [-9000, -8000], [500, 500], [2000, 2500]],
    ['back before its turn: the same turn', { at: at(900), due: at(900) }, [3000, 4000], [900, 900], [3000, 4000]],
    [
      'back just over 50 ms before its turn: the same turn',
      { at: at(ON_TURN_MS + 1), due: at(ON_TURN_MS + 1) },
      [3000, 4000],
      [ON_TURN_MS + 1, ON_TURN_MS + 1],
      [3000, 4000],
    ],
    [
      'back a fraction of a millisecond before its turn (its timer fired early), lane full: on its turn',
      { at: at(0.5), due: at(0.5) },
      [3000, 4000],
      [1500, 0.5],
      [3000, 4000],
    ],
    [
      'its turn came, lane full: a retry (2 s / 2 slots) after the soonest lease should end',
      { at: at(-10), due: at(-10) },
      [3000, 4000],
      [1500, -10],
      [3000, 4000],
    ],
    ['retries keep the place for 30 s', { at: at(0), due: at(-29_900) }, [3000, 4000], [1500, -29_900], [3000, 4000]],
    ['later than that: queued again', { at: at(-10), due: at(-30_100) }, [3000, 4000], [3000, 3000], [4000, 5000]],
  ];
  for (const [what, prior, queue, [turnAt, due], nextQueue] of rows) {
    const r = nextTurn(prior, queue.map(at), ends, state, limits, NOW);
    t.same([r.turn.at - NOW, r.turn.due - NOW, r.queue.map((x) => x - NOW)], [turnAt, due, nextQueue], what);
  }
  t.same(nextTurn(undefined, [at(9000)], ends, state, limits, NOW).turn.at, at(500), 'a changed limit starts afresh');
  const overdue = nextTurn({ at: at(-10), due: at(-10) }, [], [at(TURN_MIN_MS), at(2000)], state, limits, NOW);
  t.equal(overdue.turn.at, at(1000), 'the soonest lease overdue: retry after the spacing (2 s / 2 slots)');
});

const oneLane = {
  sources: { a: { address: '127.0.0.2', helo: 'a.example.test' } },
  pools: { default: { sources: ['a'] } },
  providers: { google: { limits: { rate: 'unlimited', concurrency: 4 } } },
};

const msg = (i: number, queueTime: number) => ({ id: `m${i}`, domain: 'gmail.test', queueTime });

const returnsIn = (d: Decision) =>
  d.action === 'hold' ? `hold ${d.ms}` : d.action === 'delay' ? `delay ${d.seconds}` : d.action;

t.test('engine: a full lane gives each waiting message its own turn, not the same second', async (t) => {
  const r = rig(oneLane);
  const q = r.clock.now();
  const tickets: Ticket[] = Array.from({ length: 10 }, () => ({}));
  const first: Decision[] = [];
  for (const [i, ticket] of tickets.entries()) first.push(await r.engine.decide(msg(i, q), ticket));
  t.same(
    first.map(returnsIn),
    ['send', 'send', 'send', 'send', 'hold 1000', 'hold 1000', 'hold 1000', 'hold 1000', 'hold 2000', 'hold 2000'],
    'four slots taken together; four others come back as they are expected to free (mean 1 s), two a delivery later',
  );
  t.match(first[9], { reason: 'concurrency', why: /turn booked, leaving in 2000 ms/ });
  t.match(await r.engine.decide(msg(10, q), {}), { action: 'hold', ms: 2000 });
  t.match(await r.engine.decide(msg(11, q), {}), { action: 'hold', ms: 2000 }, 'a delivery later, one per slot');
  const far = await r.engine.decide(msg(12, q), {});
  t.match(far, { action: 'delay', seconds: 2, why: /next slot in 3s \(back in 2s\)/ }, 'one 3 s away: back early');

  r.clock.advance(1000);
  await r.engine.outcome(tickets[0]!, { delivered: true });
  t.match(await r.engine.decide(msg(4, q), tickets[4]!), { action: 'send' }, 'on its turn a slot has freed');
  t.notOk(tickets[4]!.turn, 'its turn is over once it has a slot');

  r.clock.advance(250);
  const busy = await r.engine.decide(msg(5, q), tickets[5]!);
  t.match(busy, { action: 'hold', reason: 'concurrency', why: /turn come, lane still full/ });
  t.equal((busy as { ms: number }).ms, turnRetryMs(250), 'the next one finds the lane still full: tries again soon');
  t.equal(tickets[5]!.turn?.due, q + 1000, 'keeping its place');

  const late = tickets[9]!;
  r.clock.advance(40_000);
  await Promise.all(tickets.slice(1, 5).map((ticket) => r.engine.outcome(ticket, { delivered: true })));
  const taken = await Promise.all([5, 6, 7, 8].map((i) => r.engine.decide(msg(i, q), tickets[i]!)));
  t.same(taken.map(returnsIn), ['send', 'send', 'send', 'send'], 'four waiting ones take the four slots');
  const again = await r.engine.decide(msg(9, q), late);
  t.match(again, { reason: 'concurrency', why: /turn booked/ }, 'one back long after its turn queues again');
  t.ok((late.turn?.due ?? 0) > r.clock.now(), 'for a turn ahead');
});

t.test('engine: the turn follows the measured delivery time', async (t) => {
  const r = rig(oneLane);
  const q = r.clock.now();
  // train the mean on 3 s deliveries
  for (let round = 0; round < 30; round++) {
    const ticket: Ticket = {};
    await r.engine.decide(msg(round, q), ticket);
    r.clock.advance(3000);
    await r.engine.outcome(ticket, { delivered: true });
  }
  const tickets: Ticket[] = Array.from({ length: 6 }, () => ({}));
  const got: Decision[] = [];
  for (const [i, ticket] of tickets.entries()) {
    got.push(await r.engine.decide(msg(100 + i, q), ticket));
    r.clock.advance(500);
  }
  const turns = tickets.slice(4).map((x) => (x.turn?.due ?? 0) - q);
  const mean = 3000 - 2000 * 0.8 ** 30;
  const start = r.clock.now() - 3000;
  t.same(got.slice(0, 4).map(returnsIn), ['send', 'send', 'send', 'send']);
  t.ok(Math.abs((turns[0] as number) - (start - q + mean)) < 1, 'the first when the oldest delivery should end');
  t.ok(Math.abs((turns[1] as number) - (turns[0] as number) - 500) < 1, 'the next when the second oldest should end');
});
