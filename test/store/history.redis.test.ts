/**
 * Lane history (lib/core/history.ts; lib/store/memory-history.ts and
 * lib/store/lua/tally-3.lua) on the memory store and on a real redis-server:
 * one table, the same buckets read back, old minutes and days dropped, and
 * the Redis hash expiring with its TTL set by the same script.
 */

import t, { type Test } from 'tap';
import { DEFAULT_REACT } from '../../lib/core/adapt';
import { DAY_MS } from '../../lib/core/day';
import { HISTORY_MINUTES, MINUTE_MS, historyDays, type LaneHistory } from '../../lib/core/history';
import type { Schedule } from '../../lib/core/warmup';
import { rate } from './steps';
import { MemoryStore } from '../../lib/store/memory';
import { RedisStore } from '../../lib/store/redis';
import type { PacingStore } from '../../lib/store/types';
import { onBothStores } from './both-stores';

/** 01:00 UTC of some day, at the start of a minute. */
const T0 = 20_400 * DAY_MS + 3_600_000;
const M0 = T0 / MINUTE_MS;
const D0 = 20_400;
const lane = { source: 's2', provider: 'microsoft365' };
const LIMITS = { rate: rate('60/min') };

type Op = { at: number; names: string[]; keepDays?: number } | { at: number; throttle: true };

interface Case {
  name: string;
  ops: Op[];
  readAt: number;
  want: LaneHistory;
}

const CASES: Case[] = [
  {
    name: 'a minute counts its outcomes and marks, with the pace after its last outcome',
    ops: [
      { at: 0, names: ['attempts', 'delivered'] },
      { at: 1000, throttle: true },
      { at: 2000, names: ['attempts', 'deferred:throttle', 'throttles', 'mark:slowed'] },
      { at: MINUTE_MS + 5, names: ['attempts', 'delivered'] },
    ],
    readAt: 2 * MINUTE_MS,
    want: {
      minutes: [
        {
          minute: M0,
          counts: { attempts: 2, delivered: 1, 'deferred:throttle': 1, throttles: 1, 'mark:slowed': 1 },
          pace: 0.5,
        },
        { minute: M0 + 1, counts: { attempts: 1, delivered: 1 }, pace: 0.5 },
      ],
      days: [{ day: D0, counts: { attempts: 3, delivered: 2, 'deferred:throttle': 1, throttles: 1 } }],
    },
  },
  {
    name: 'minutes older than 48 h drop, on the next write and on a read',
    ops: [
      { at: 0, names: ['attempts'] },
      { at: 10 * MINUTE_MS, names: ['attempts'] },
      { at: HISTORY_MINUTES * MINUTE_MS, names: ['delivered'] },
    ],
    readAt: (HISTORY_MINUTES + 10) * MINUTE_MS,
    want: {
      minutes: [{ minute: M0 + HISTORY_MINUTES, counts: { delivered: 1 }, pace: 1 }],
      days: [{ day: D0 + 2, counts: { delivered: 1 } }],
    },
  },
  {
    name: 'days are kept for keepDays, older ones drop',
    ops: [
      { at: 0, names: ['attempts'], keepDays: 3 },
      { at: DAY_MS, names: ['attempts'], keepDays: 3 },
      { at: 2 * DAY_MS, names: ['attempts'], keepDays: 3 },
      { at: 3 * DAY_MS, names: ['attempts', 'delivered'], keepDays: 3 },
    ],
    readAt: 3 * DAY_MS + 1000,
    want: {
      minutes: [
        { minute: M0 + 2 * 1440, counts: { attempts: 1 }, pace: 1 },
        { minute: M0 + 3 * 1440, counts: { attempts: 1, delivered: 1 }, pace: 1 },
      ],
      days: [
        { day: D0 + 1, counts: { attempts: 1 } },
        { day: D0 + 2, counts: { attempts: 1 } },
        { day: D0 + 3, counts: { attempts: 1, delivered: 1 } },
      ],
    },
  },
  {
    name: 'a lane idle for 5 days keeps none of its old minutes',
    ops: [
      { at: 0, names: ['attempts'], keepDays: 10 },
      { at: 5 * DAY_MS, names: ['bounced'], keepDays: 10 },
    ],
    readAt: 5 * DAY_MS,
    want: {
      minutes: [{ minute: M0 + 5 * 1440, counts: { bounced: 1 }, pace: 1 }],
      days: [
        { day: D0, counts: { attempts: 1 } },
        { day: D0 + 5, counts: { bounced: 1 } },
      ],
    },
  },
];

async function runCases(t: Test, make: (i: number) => PacingStore, setNow: (ms: number) => void): Promise<string[]> {
  const transcript: string[] = [];
  for (const [i, c] of CASES.entries()) {
    const store = make(i);
    for (const op of c.ops) {
      setNow(T0 + op.at);
      if ('throttle' in op) await store.react(lane, LIMITS, { category: 'throttle' }, DEFAULT_REACT);
      else await store.tally(lane, op.names, 0, op.keepDays);
    }
    setNow(T0 + c.readAt);
    const { value } = await store.histories([lane, { source: 's3', provider: 'none' }]);
    t.same(value[0], c.want, c.name);
    t.same(value[1], { minutes: [], days: [] }, `${c.name}: another lane has no history`);
    const tallied = await store.tallies([lane]);
    t.notOk(
      Object.keys(tallied.value[0] ?? {}).some((f) => f.includes('mark:')),
      `${c.name}: marks are not outcome counters`,
    );
    transcript.push(`${c.name}: ${JSON.stringify(value)}`);
  }
  return transcript;
}

t.test('historyDays: the longest ramp plus a day, at least 2', async (t) => {
  const s = (days: number[], providers: Array<[string, number[]]> = []) =>
    ({ days, providers: new Map(providers) }) as unknown as Schedule;
  t.equal(historyDays([]), 2);
  t.equal(historyDays([s([1, 2, 3])]), 4);
  t.equal(historyDays([s([1]), s([1, 2], [['gmail', [1, 2, 3, 4, 5]]])]), 6);
});

t.test('memory and Redis stores keep the same bounded history', async (t) => {
  const { memory, redis, client, prefix, clock, setNow } = await onBothStores(t, 'y', runCases);
  t.same(redis, memory, 'the same buckets on both stores');

  const ttl = await client.pttl(`${prefix('y2')}v1:y:{s2|microsoft365}`);
  t.ok(ttl > 2 * DAY_MS && ttl <= 3 * DAY_MS, `the Redis history expires after keepDays idle days (${ttl} ms)`);
  const fields = await client.hkeys(`${prefix('y1')}v1:y:{s2|microsoft365}`);
  t.same(
    fields.filter((f) => /^[md]\d/.test(f)).sort(),
    [`d${D0 + 2}`, `m${M0 + 10}`, `m${M0 + HISTORY_MINUTES}`],
    'the minute and day older than the last write window are gone from the Redis hash (a later one is hidden on read)',
  );

  // two nodes on one Redis write into the same buckets: either reads the cluster's history
  const nodeA = new RedisStore(client, { prefix: prefix('shared'), clockOverride: clock });
  const nodeB = new RedisStore(client, { prefix: prefix('shared'), clockOverride: clock });
  setNow(T0);
  await nodeA.tally(lane, ['attempts', 'delivered'], 0);
  await nodeB.tally(lane, ['attempts', 'deferred:throttle', 'throttles'], 0);
  t.same(
    (await nodeA.histories([lane])).value[0]?.minutes,
    [{ minute: M0, counts: { attempts: 2, delivered: 1, 'deferred:throttle': 1, throttles: 1 }, pace: 1 }],
    'the history is shared across the cluster',
  );

  // the memory store forgets a lane's history when Redis would have expired it
  const mem = new MemoryStore(clock);
  setNow(T0);
  await mem.tally(lane, ['attempts'], 0);
  setNow(T0 + 2 * DAY_MS + 61_000);
  await mem.acquire({ source: 's9', provider: 'x' }, LIMITS, { mode: 'now', leaseId: 'a', leaseMs: 1000 });
  t.same((await mem.histories([lane])).value, [{ minutes: [], days: [] }], 'memory: gone after two idle days');
});
