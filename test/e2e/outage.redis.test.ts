/**
 * Redis going away and changing master mid-run: mail keeps moving, paced by
 * each node's share of the limit while Redis is down, shared again once it is
 * back; a Sentinel failover is followed without losing or doubling mail.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { startReceiver } from '../helpers/receiver';
import { startRedis, startSentinel } from '../helpers/redis';
import { maxInWindow, startAll, submitBacklog } from '../helpers/shared-run';

const R = 4;

t.test(
  'Redis killed mid-run and started again: nothing lost, doubled or bounced; the fallback limiter holds',
  async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const receiver = await startReceiver();
    t.teardown(() => receiver.close());
    // the lane starts at its configured pace: this measures the fallback's share; the local store
    // never runs a start phase of its own (test/unit/fallback-share.test.ts)
    const harakas = await startAll(
      receiver,
      {
        redis: `url=${redis.url}`,
        rate: R,
        burst: 1,
        processes: [0, 0],
        extraIni: 'on_store_error=local\ncluster_size=2\ncommand_timeout=300ms\nretry_after=2s\n',
        adaptIni: 'start=1',
      },
      `o${randomUUID().slice(0, 8)}`,
    );
    t.teardown(() => Promise.all(harakas.map((h) => h.stop())));
    const ids = await submitBacklog(harakas, 40, 'outage');
    await receiver.waitFor(8, 20_000);
    await redis.kill();
    const down = Date.now();
    await new Promise((r) => setTimeout(r, 8000));
    await redis.restart();
    const up = Date.now();
    await receiver.waitFor(ids.length, 60_000);
    await new Promise((r) => setTimeout(r, 1500));

    const got = receiver.deliveries.map((d) => d.messageId);
    t.equal(got.length, ids.length, 'every message arrived');
    t.equal(new Set(got).size, got.length, 'none twice');
    const gap = receiver.deliveries.map((d) => d.receivedAt).filter((x) => x > down + 1000 && x < up);
    t.ok(
      gap.length >= 3 * R,
      `mail kept moving while Redis was down (${gap.length} delivered in the ${Math.round((up - down) / 1000)} s gap)`,
    );
    const worst = maxInWindow(gap, 1000);
    t.ok(
      worst <= R + 2,
      `each node paced at its share (R/2, burst 1) during the gap: at most ${R + 2} in any second (saw ${worst})`,
    );
    for (const h of harakas) {
      t.equal(
        (h.log().match(/shared store failed/g) ?? []).length,
        1,
        'the outage is logged once per node, not per message',
      );
      t.match(h.log(), /shared store is back after \d+s; shared pacing resumed/, 'and its end');
      t.notMatch(h.log(), /bounc/i, 'nothing bounced');
    }
  },
);

t.test('a Sentinel failover mid-run: pacing continues on the new master', async (t) => {
  const sentinel = await startSentinel({ sentinels: 1 });
  t.teardown(() => sentinel.stop());
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const where = `sentinel_name=${sentinel.name}\nsentinels=${sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`;
  const harakas = await startAll(
    receiver,
    { redis: where, rate: R, burst: 1, processes: [0], extraIni: 'command_timeout=500ms\nretry_after=1s\n' },
    `f${randomUUID().slice(0, 8)}`,
  );
  t.teardown(() => Promise.all(harakas.map((h) => h.stop())));
  const ids = await submitBacklog(harakas, 40, 'failover');
  await receiver.waitFor(10, 30_000); // the start phase: 0.1 of the pace, × 1.5 every 10 s
  const before = await sentinel.master();
  const after = await sentinel.failover();
  const switched = Date.now();
  t.not(after.port, before.port, `the master moved (${before.port} → ${after.port})`);
  await receiver.waitFor(ids.length, 60_000);
  await new Promise((r) => setTimeout(r, 1000));
  const got = receiver.deliveries.map((d) => d.messageId);
  t.equal(new Set(got).size, ids.length, 'every message once');
  t.equal(got.length, ids.length, 'none twice');
  const later = receiver.deliveries.filter((d) => d.receivedAt > switched + 2000).map((d) => d.receivedAt);
  t.ok(later.length >= 10, `paced mail kept flowing after the failover (${later.length})`);
  t.ok(maxInWindow(later, 1000) <= R + 2, `at the shared pace (${maxInWindow(later, 1000)} in the busiest second)`);
});
