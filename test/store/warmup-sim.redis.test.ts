/** The warm-up simulation on the Redis store: the same days as on the memory store. */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { MemoryStore } from '../../lib/store/memory';
import { RedisStore } from '../../lib/store/redis';
import { createRedisClient } from '../../lib/store/redis-client';
import { simulateWarmup, type SimOptions } from '../helpers/warmup-sim';
import { startRedis } from '../helpers/redis';

const RAMP = Array.from({ length: 30 }, (_, i) => Math.round(8 * 1.12 ** i));
const options: SimOptions = {
  yaml: {
    sources: {
      warm: { address: '127.0.0.2' },
      fresh: { address: '127.0.0.3', warmup: { schedule: 'ramp', start: '2026-01-05' } },
    },
    providers: { google: { limits: { rate: 'unlimited', concurrency: 'unlimited' } } },
    static_mx: { 'gmail.test': [{ host: 'gmail-smtp-in.l.google.com', address: '192.0.2.1' }] },
  },
  warmup: {
    schedules: {
      ramp: { progression: 'earned', days: RAMP, min_usage: 0.8, max_throttle_ratio: 0.05, step_back_after: 2 },
    },
  },
  days: 45,
  everyMinutes: 12,
  domain: 'gmail.test',
  badDays: new Set([6, 7, 8]),
  badSource: 'fresh',
};

t.test('45 simulated days of earned warm-up: Redis and memory stores send the same, day by day', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const onRedis = await simulateWarmup(
    (clock) =>
      new RedisStore(createRedisClient({ url: server.url, commandTimeoutMs: 2000 }), {
        prefix: `w${randomUUID().slice(0, 8)}:`,
        clockOverride: clock,
      }),
    options,
  );
  const inMemory = await simulateWarmup((clock) => new MemoryStore(clock), options);
  t.equal(onRedis.delivered, onRedis.arrived, 'every message delivered');
  t.same(onRedis.sent, inMemory.sent, 'identical per-day, per-source volumes');
  for (let day = 1; day <= 30; day++) {
    const fresh = onRedis.sent[day - 1]?.fresh ?? 0;
    if (fresh > (RAMP[Math.max(0, day - 1)] as number)) t.fail(`day ${day}: ${fresh} above the day-${day} cap`);
  }
  t.ok((onRedis.sent[8]?.fresh ?? 0) < (RAMP[5] as number), 'bad days held the ramp back');
});
