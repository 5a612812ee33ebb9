/**
 * Operator controls through a Redis outage (a real redis-server, killed and
 * restarted): the fallback keeps obeying the controls it last read, refuses a
 * new action loudly rather than apply it to one node, and acts and reads
 * through Redis again once it is back.
 */

import t from 'tap';
import { randomUUID } from 'node:crypto';
import { FallbackStore } from '../../lib/store/fallback';
import { openRedisStore } from '../../lib/store/redis-client';
import { startRedis } from '../helpers/redis';

t.test('a Redis outage keeps the controls last read and refuses new actions', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const redis = await openRedisStore(
    { url: server.url, commandTimeoutMs: 300 },
    `test:${randomUUID().slice(0, 8)}:`,
    () => undefined,
  );
  const logs: string[] = [];
  const store = new FallbackStore(redis, {
    policy: 'local',
    clusterSize: 2,
    retryMs: 200,
    delayMs: 30_000,
    log: (_l, text) => logs.push(text),
  });
  t.teardown(() => store.close());
  const target = { kind: 'provider' as const, provider: 'google' };
  await store.setControl({ target, forMs: 0, reason: 'outage test', who: 'gus' });
  t.match((await store.controls()).value, [{ target, who: 'gus' }], 'read from Redis');

  await server.kill();
  t.match(
    (await store.controls()).value,
    [{ target, who: 'gus', reason: 'outage test' }],
    'Redis down: the pause last read stays in force',
  );
  t.ok(store.degraded && logs.some((l) => /shared store failed \(controls/.test(l)), 'the outage is logged');
  await t.rejects(
    store.setControl({ target: { kind: 'source', source: 'a' }, forMs: 0, reason: '', who: 'gus' }),
    'a new action fails while Redis is down',
  );
  await t.rejects(store.clearControl(target), 'so does a resume');

  await server.restart();
  const back = Date.now();
  let resumed = false;
  while (!resumed && Date.now() - back < 15_000) {
    resumed = await store.clearControl(target).then(
      () => true,
      () => false,
    );
    if (!resumed) await new Promise((r) => setTimeout(r, 100));
  }
  // this test's redis-server keeps nothing on disk, so the restarted one may have lost the pause: the resume must just work
  t.ok(resumed, `Redis back: a resume works again (${Date.now() - back} ms)`);
  // the fallback answers locally until its next read-only check of Redis (one per retryMs) finds it back
  let list = (await store.controls()).value;
  while (list.length > 0 && Date.now() - back < 15_000) {
    await new Promise((r) => setTimeout(r, 100));
    list = (await store.controls()).value;
  }
  t.same(
    list,
    [],
    `and the fallback reads the empty list from Redis again (${Date.now() - back} ms after it came back)`,
  );
  t.notOk(store.degraded, 'the outage is over');
});
