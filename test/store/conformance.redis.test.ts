/**
 * The memory store and the Redis store (a real redis-server started here)
 * against one conformance table and 200 random sequences: same results, same
 * states, to the last bit of every double.
 */

import t from 'tap';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { MemoryStore } from '../../lib/store/memory';
import { RedisStore } from '../../lib/store/redis';
import { startRedis } from '../helpers/redis';
import { runTable } from './conformance';
import { runDifferential } from './differential';

t.test('memory and Redis stores conform to the table and to each other', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const client = new Redis(server.port, server.host, { enableAutoPipelining: true });
  t.teardown(() => client.quit());
  let now = 0;
  const setNow = (v: number) => (now = v);
  const run = randomUUID().slice(0, 8);

  let memory: string[] = [];
  let redis: string[] = [];
  await t.test('memory store', async (t) => {
    memory = await runTable(t, async () => new MemoryStore(() => now), setNow);
  });
  await t.test('Redis store', async (t) => {
    redis = await runTable(
      t,
      async (i) => new RedisStore(client, { prefix: `test:${run}:c${i}:`, clockOverride: () => now }),
      setNow,
    );
  });
  t.same(redis, memory, 'every case gives the same transcript on both stores');

  await t.test('random sequences', async (t) => {
    await runDifferential(t, {
      sequences: 200,
      memory: (clock) => new MemoryStore(clock),
      redis: (clock, i) => new RedisStore(client, { prefix: `test:${run}:r${i}:`, clockOverride: clock }),
    });
  });
});
