/**
 * Outcome counters (lib/core/tally.ts, lib/store/lua/tally-3.lua) on the
 * memory store and on a real redis-server: one table, the same counts today
 * and in the last hour, the same fields kept after pruning.
 */

import t, { type Test } from 'tap';
import { DAY_MS } from '../../lib/core/day';
import { readTally, TALLY_BUCKET_MS } from '../../lib/core/tally';
import { MemoryStore } from '../../lib/store/memory';
import { RedisStore } from '../../lib/store/redis';
import type { PacingStore } from '../../lib/store/types';
import { onBothStores } from './both-stores';

/** 01:00 UTC of some day, at the start of a 5-minute bucket. */
const T0 = 20_400 * DAY_MS + 3_600_000;
const MIN = 60_000;
const lane = { source: 's2', provider: 'microsoft365' };

interface Case {
  name: string;
  offsetMs?: number;
  /** [time after T0, names] */
  tallies: Array<[number, string[]]>;
  readAt: number;
  today: Record<string, number>;
  lastHour: Record<string, number>;
  /** Prefixes of the day/bucket fields left stored (sorted), when the case checks pruning. */
  stored?: string[];
}

const CASES: Case[] = [
  {
    name: 'each name counted once per call, today and in the hour',
    tallies: [
      [0, ['attempts', 'delivered']],
      [1000, ['attempts', 'deferred:throttle', 'throttles']],
      [2000, ['attempts', 'delivered']],
    ],
    readAt: 3000,
    today: { attempts: 3, delivered: 2, 'deferred:throttle': 1, throttles: 1 },
    lastHour: { attempts: 3, delivered: 2, 'deferred:throttle': 1, throttles: 1 },
  },
  {
    name: 'an hour later the bucket has left the last hour, not the day',
    tallies: [
      [0, ['attempts']],
      [50 * MIN, ['attempts', 'bounced']],
    ],
    readAt: 61 * MIN,
    today: { attempts: 2, bounced: 1 },
    lastHour: { attempts: 1, bounced: 1 },
  },
  {
    name: 'the last hour is the current bucket and the 11 before it',
    tallies: [
      [0, ['attempts']],
      [TALLY_BUCKET_MS, ['attempts']],
    ],
    readAt: 12 * TALLY_BUCKET_MS,
    today: { attempts: 2 },
    lastHour: { attempts: 1 },
  },
  {
    name: 'days end at midnight in the configured zone (UTC+2 here: 22:00 UTC)',
    offsetMs: 2 * 3_600_000,
    tallies: [
      [20 * 3_600_000 + 30 * MIN, ['attempts']],
      [21 * 3_600_000 + 2 * MIN, ['attempts']],
    ],
    readAt: 21 * 3_600_000 + 3 * MIN,
    today: { attempts: 1 },
    lastHour: { attempts: 2 },
  },
  {
    name: 'days before yesterday and old buckets are dropped',
    tallies: [
      [0, ['attempts']],
      [DAY_MS, ['attempts']],
      [2 * DAY_MS, ['delivered']],
    ],
    readAt: 2 * DAY_MS,
    today: { delivered: 1 },
    lastHour: { delivered: 1 },
    stored: [`d${20_401}:attempts`, `d${20_402}:delivered`, `m${(T0 + 2 * DAY_MS) / TALLY_BUCKET_MS}:delivered`],
  },
];

async function runCases(t: Test, make: (i: number) => PacingStore, setNow: (ms: number) => void): Promise<string[]> {
  const transcript: string[] = [];
  for (const [i, c] of CASES.entries()) {
    const store = make(i);
    for (const [at, names] of c.tallies) {
      setNow(T0 + at);
      await store.tally(lane, names, c.offsetMs ?? 0);
    }
    setNow(T0 + c.readAt);
    const { now, value } = await store.tallies([lane, { source: 's3', provider: 'none' }]);
    const [fields, other] = value;
    const read = readTally(fields ?? {}, now, c.offsetMs ?? 0);
    t.same(read, { today: c.today, lastHour: c.lastHour }, c.name);
    t.same(other, {}, `${c.name}: another lane has no counts`);
    if (c.stored) t.same(Object.keys(fields ?? {}).sort(), c.stored, `${c.name}: the fields kept`);
    transcript.push(`${c.name}: ${JSON.stringify(read)} ${JSON.stringify(Object.keys(fields ?? {}).sort())}`);
  }
  return transcript;
}

t.test('memory and Redis stores count outcomes alike', async (t) => {
  const { memory, redis, client, prefix, clock, setNow } = await onBothStores(t, 't', runCases);
  t.same(redis, memory, 'the same counts and fields on both stores');
  const ttl = await client.pttl(`${prefix('t0')}v1:t:{s2|microsoft365}`);
  t.ok(ttl > DAY_MS && ttl <= 2 * DAY_MS, `the Redis counters expire after two idle days (${ttl} ms)`);

  // the last reaction's reason: the same on both stores, the latest kept, gone after two idle days
  const reasons = async (store: PacingStore) => {
    const seen: unknown[] = [];
    setNow(T0);
    await store.reason(lane, { effect: 'slowed', category: 'throttle', rule: 'r1', reply: '451 4.7.500 busy' });
    setNow(T0 + 5000);
    await store.reason(lane, { effect: 'suspended', category: 'suspend', rule: '', reply: '421 4.7.28 go away' });
    seen.push((await store.reasons([lane, { source: 's3', provider: 'none' }])).value);
    setNow(T0 + 5000 + 2 * DAY_MS + 1);
    seen.push((await store.reasons([lane])).value);
    return seen;
  };
  const fromMemory = await reasons(new MemoryStore(clock));
  const fromRedis = await reasons(new RedisStore(client, { prefix: prefix('why'), clockOverride: clock }));
  t.same(
    fromMemory[0],
    [{ at: T0 + 5000, effect: 'suspended', category: 'suspend', rule: '', reply: '421 4.7.28 go away' }, null],
    'the latest reason',
  );
  t.same(fromRedis[0], fromMemory[0], 'Redis keeps the same');
  t.same(fromMemory[1], [null], 'forgotten after two idle days (memory)');
  const whyTtl = await client.pttl(`${prefix('why')}v1:r:{s2|microsoft365}`);
  t.ok(whyTtl > DAY_MS && whyTtl <= 2 * DAY_MS, `the Redis reason expires after two idle days (${whyTtl} ms)`);
});
