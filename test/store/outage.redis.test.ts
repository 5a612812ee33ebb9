/**
 * A Redis outage: while the server is down a decision fails within the
 * command timeout (an error for the caller to handle, never a hang), is not
 * applied later behind the caller's back, and the store works again once the
 * server is back.
 */

import t from 'tap';
import { randomUUID } from 'node:crypto';
import { parseRate, type Rate } from '../../lib/core/rate';
import { openRedisStore } from '../../lib/store/redis-client';
import { command, startRedis } from '../helpers/redis';

t.test('outage: fail fast while Redis is down, recover when it is back', async (t) => {
  const server = await startRedis({ args: ['--enable-debug-command', 'yes'] });
  t.teardown(() => server.stop());
  const errors: string[] = [];
  const store = await openRedisStore(
    { url: server.url, commandTimeoutMs: 300 },
    `test:${randomUUID().slice(0, 8)}:`,
    (err) => errors.push(err.message),
  );
  t.teardown(() => store.close());
  const lane = { source: 'ip1', provider: 'gmail' };
  const limits = { rate: parseRate('100/s') as Rate };
  let n = 0;
  const acquire = () => store.acquire(lane, limits, { mode: 'now', leaseId: `l${n++}`, leaseMs: 60_000 });

  t.equal((await acquire()).value.kind, 'granted', 'works while Redis is up');
  const stalled = command(server.port, 'DEBUG', 'SLEEP', '1');
  await new Promise((r) => setTimeout(r, 50));
  const before = Date.now();
  await t.rejects(acquire(), /timed out/i, 'a stalled Redis: the decision fails after the command timeout');
  t.ok(Date.now() - before < 900, `within the command timeout (${Date.now() - before} ms of 300)`);
  await stalled;

  await server.kill();
  const started = Date.now();
  await t.rejects(acquire(), 'a decision fails while Redis is down');
  t.ok(Date.now() - started < 2000, `and fails fast (${Date.now() - started} ms)`);

  await new Promise((r) => setTimeout(r, 500)); // an outage long enough for reconnect attempts to fail
  await server.restart();
  const back = Date.now();
  let result: string | undefined;
  while (!result && Date.now() - back < 15_000) {
    result = await acquire().then(
      (r) => r.value.kind,
      () => undefined,
    );
    if (!result) await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(result, 'granted', `works again after the restart (${Date.now() - back} ms)`);
  const { value } = await store.peek([lane], lane.provider);
  t.same(
    value.lanes[0]?.leases.map((l) => l.id),
    [`l${n - 1}`],
    'the decision that failed during the outage was not applied later',
  );
  t.ok(
    errors.some((e) => e.includes('ECONNREFUSED')),
    'connection errors reach the onError callback',
  );
});
