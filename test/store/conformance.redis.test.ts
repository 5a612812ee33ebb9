/**
 * The memory store and the Redis store (a real redis-server started here)
 * against one conformance table and 200 random sequences: same results, same
 * states, to the last bit of every double.
 */

import t from 'tap';
import { MemoryStore } from '../../lib/store/memory';
import { RedisStore } from '../../lib/store/redis';
import { onBothStores } from './both-stores';
import { runTable } from './conformance';
import { runDifferential } from './differential';

t.test('memory and Redis stores conform to the table and to each other', async (t) => {
  const { memory, redis, client, prefix } = await onBothStores(t, 'c', (t, make, setNow) =>
    runTable(t, async (i) => make(i), setNow),
  );
  t.same(redis, memory, 'every case gives the same transcript on both stores');

  await t.test('random sequences', async (t) => {
    await runDifferential(t, {
      sequences: 200,
      memory: (clock) => new MemoryStore(clock),
      redis: (clock, i) => new RedisStore(client, { prefix: prefix(`r${i}`), clockOverride: clock }),
    });
  });
});
