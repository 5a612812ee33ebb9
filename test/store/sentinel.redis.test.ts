/**
 * The Redis store over a Sentinel-managed master (a master, a replica and
 * three sentinels started here) keeps working across SENTINEL FAILOVER: the
 * state written before (and replicated, WAIT) is there after, and the first
 * decision after the failover succeeds on the new master within seconds.
 */

import t from 'tap';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { parseRate, type Rate } from '../../lib/core/rate';
import { createRedisClient, whenReady } from '../../lib/store/redis-client';
import { RedisStore } from '../../lib/store/redis';
import { info, startSentinel } from '../helpers/redis';

t.test('Sentinel: the store follows the master through a failover', async (t) => {
  const setup = await startSentinel({ sentinels: 3 });
  const client = createRedisClient({
    sentinel: { name: setup.name, sentinels: setup.sentinels },
    commandTimeoutMs: 1000,
  }) as Redis;
  client.on('error', () => undefined); // connection errors during the failover are expected; ioredis reconnects
  t.teardown(async () => {
    client.disconnect();
    await setup.stop();
  });
  const store = new RedisStore(client, { prefix: `test:${randomUUID().slice(0, 8)}:` });
  await whenReady(client, 10_000);
  const lane = { source: 'ip1', provider: 'gmail' };
  const limits = { rate: parseRate('1/h') as Rate, concurrency: 5 };
  const req = (id: string) => ({ mode: 'now' as const, leaseId: id, leaseMs: 600_000 });

  const before = await store.acquire(lane, limits, req('before'));
  t.equal(before.value.kind, 'granted', 'granted on the first master');
  const oldMaster = await setup.master();
  t.ok(Number(await client.wait(1, 5000)) >= 1, 'the replica acknowledged the write (WAIT 1)');

  const newMaster = await setup.failover();
  t.not(newMaster.port, oldMaster.port, `sentinels announce a new master (${oldMaster.port} -> ${newMaster.port})`);

  const started = Date.now();
  let after: Awaited<ReturnType<RedisStore['acquire']>> | undefined;
  let lastError: unknown;
  while (!after && Date.now() - started < 10_000) {
    try {
      after = await store.acquire(lane, limits, req('after'));
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  t.ok(
    after,
    `a decision succeeds after the failover (${Date.now() - started} ms)${lastError ? `; retried after ${String(lastError)}` : ''}`,
  );
  t.match(
    after?.value,
    { kind: 'wait', reason: 'rate' },
    'the rate slot taken before the failover still binds: state survived',
  );
  const { value } = await store.peek([lane], lane.provider);
  t.match(
    value.lanes[0],
    { dayCount: 1, leases: [{ id: 'before' }] },
    'the lease and daily count from before are on the new master',
  );
  const served = await info(newMaster.port, 'keyspace');
  t.ok(
    [...served.keys()].some((k) => k.startsWith('db')),
    'the new master holds the keys',
  );
  t.equal((await info(newMaster.port, 'replication')).get('role'), 'master');
  t.equal(
    Number(((await client.call('CONFIG', 'GET', 'port')) as string[])[1]),
    newMaster.port,
    'the client now talks to the new master',
  );
});
