/**
 * The Redis store on a 3-master Redis Cluster (started here): the same
 * conformance table and random sequences as on one server, all keys of a
 * lane in one slot, lanes spread over the masters, lanes() across masters.
 */

import t from 'tap';
import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { parseRate, type Rate } from '../../lib/core/rate';
import { MemoryStore } from '../../lib/store/memory';
import { RedisStore } from '../../lib/store/redis';
import { RedisKeys } from '../../lib/store/redis-keys';
import { whenReady } from '../../lib/store/redis-client';
import { startRedisCluster } from '../helpers/redis';
import { runTable } from './conformance';
import { runDifferential } from './differential';

t.test('Redis Cluster store', async (t) => {
  const cluster = await startRedisCluster();
  t.teardown(() => cluster.stop());
  const client = new Cluster(cluster.nodes, { enableAutoPipelining: true });
  t.teardown(() => client.quit());
  await whenReady(client, 10_000);
  let now = 0;
  const setNow = (v: number) => (now = v);
  const run = randomUUID().slice(0, 8);

  await t.test('passes the conformance table, like the memory store', async (t) => {
    let memory: string[] = [];
    await t.test('memory', async (t) => {
      memory = await runTable(t, async () => new MemoryStore(() => now), setNow);
    });
    let redis: string[] = [];
    await t.test('cluster', async (t) => {
      redis = await runTable(
        t,
        async (i) => new RedisStore(client, { prefix: `test:${run}:c${i}:`, clockOverride: () => now }),
        setNow,
      );
    });
    t.same(redis, memory, 'same transcripts');
  });

  await t.test('random sequences match the memory store', async (t) => {
    await runDifferential(t, {
      sequences: 50,
      memory: (clock) => new MemoryStore(clock),
      redis: (clock, i) => new RedisStore(client, { prefix: `test:${run}:r${i}:`, clockOverride: clock }),
    });
  });

  await t.test('a lane keeps its keys in one slot; lanes spread over slots and masters', async (t) => {
    const prefix = `test:${run}:spread:`;
    const keys = new RedisKeys(prefix);
    const store = new RedisStore(client, { prefix });
    const limits = { rate: parseRate('10/s') as Rate, concurrency: 5 };
    const lanes = Array.from({ length: 60 }, (_, i) => ({ source: `ip${i}`, provider: i % 2 ? 'gmail' : 'microsoft' }));
    for (const lane of lanes) {
      t.equal(
        (await store.acquire(lane, limits, { mode: 'now', leaseId: `l-${lane.source}`, leaseMs: 60_000 })).value.kind,
        'granted',
      );
      await store.hit(lane, 'rule', 60_000);
      await store.saveWarmRecord(lane, { start: 1, step: 1, evaluated: 1, badDays: 0 });
    }
    const slotOf = (key: string) => client.cluster('KEYSLOT', key) as Promise<number>;
    const laneSlots = new Set<number>();
    for (const lane of lanes) {
      const slots = await Promise.all([...keys.lane(lane), keys.hits(lane, 'rule'), keys.warm(lane)].map(slotOf));
      if (new Set(slots).size !== 1) t.fail(`keys of ${lane.source}|${lane.provider} span slots ${slots.join(',')}`);
      laneSlots.add(slots[0] as number);
    }
    t.ok(laneSlots.size >= 50, `60 lanes use ${laneSlots.size} slots`);
    const perMaster = await Promise.all(client.nodes('master').map((n) => n.dbsize()));
    t.ok(
      perMaster.length === 3 && perMaster.every((n) => n > 0),
      `every master holds lanes (${perMaster.join(', ')} keys)`,
    );
    const listed = (await store.lanes()).value.map(({ lane }) => `${lane.source}|${lane.provider}`).sort();
    t.same(listed, lanes.map((l) => `${l.source}|${l.provider}`).sort(), 'lanes() finds every lane on every master');
  });
});
