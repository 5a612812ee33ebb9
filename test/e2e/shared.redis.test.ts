/**
 * Shared pacing across hosts: three Haraka processes plus one in cluster mode
 * (two workers) pace one lane through one Redis (then a Redis Cluster). The
 * receiver's timestamps must show the lane's limit held across all of them.
 */
import t from 'tap';
import type { Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { startReceiver } from '../helpers/receiver';
import { startRedis, startRedisCluster } from '../helpers/redis';
import { maxInWindow, startAll, submitBacklog, type SharedSetup } from '../helpers/shared-run';

const R = 5;
const BURST = 1;
const SECONDS = 30;

async function scenario(t: Test, redis: string): Promise<void> {
  // the receiver notes when each MAIL FROM arrives: the moment a delivery starts
  const mailAt: number[] = [];
  const receiver = await startReceiver({
    reply: (ctx) => {
      if (ctx.stage === 'mail') mailAt.push(ctx.now);
      return null;
    },
  });
  t.teardown(() => receiver.close());
  // the lane starts at its configured pace: this measures the shared limit, which a start phase
  // (tested in test/unit/start.test.ts, the store conformance and the e2e benchmark) would hide at first
  const setup: SharedSetup = { redis, rate: R, burst: BURST, processes: [0, 0, 0, 2], adaptIni: 'start=1' };
  const harakas = await startAll(receiver, setup, `t${randomUUID().slice(0, 8)}`);
  t.teardown(() => Promise.all(harakas.map((h) => h.stop())));
  const ids = await submitBacklog(harakas, 50, 'shared'); // 200 queued, more than R × 30 = 150
  await receiver.waitFor(Math.ceil(0.95 * R * SECONDS), (SECONDS + 20) * 1000);
  const first = Math.min(...receiver.deliveries.map((d) => d.receivedAt));
  await new Promise((r) => setTimeout(r, Math.max(0, first + SECONDS * 1000 - Date.now())));
  const times = receiver.deliveries.map((d) => d.receivedAt).filter((x) => x < first + SECONDS * 1000);
  // The lane's limit holds in any window of W seconds as R × W + burst messages at the moment
  // paceline grants them. The receiver sees each one later, by a delay that varies with the load:
  // five Haraka workers and the receiver share two cores, and a delivery can start up to LATE_MS
  // after its slot (CI saw 8 MAIL FROMs in one second at R = 5, burst = 1). So the window is 2 s
  // and the bound R × (W + LATE_MS) + burst: 14, where one host pacing on its own would show
  // about 4 × R × W = 40 and a burst twice too large 16.
  const W = 2000;
  const LATE_MS = 600;
  const inWindow = mailAt.filter((x) => x < first + SECONDS * 1000);
  const worst = maxInWindow(inWindow, W);
  const worstData = maxInWindow(times, W);
  const worst1s = maxInWindow(inWindow, 1000);
  const bound = Math.floor((R * (W + LATE_MS)) / 1000) + BURST;
  t.ok(
    worst <= bound,
    `no ${W / 1000}-second window of MAIL FROMs above R × (${W / 1000} s + ${LATE_MS} ms) + burst = ${bound} across 5 workers on 4 hosts (saw ${worst}; by end of DATA ${worstData}; in 1 s ${worst1s})`,
  );
  t.ok(
    times.length >= 0.95 * R * SECONDS,
    `${times.length} delivered in ${SECONDS} s, at least 95 % of ${R * SECONDS}`,
  );
  t.ok(times.length <= R * SECONDS + BURST + 1, `and not more than the limit allows (${times.length})`);
  const from = new Set(receiver.deliveries.map((d) => d.remoteAddress));
  t.same([...from], ['127.0.0.2'], 'all from the one shared source');
  const got = receiver.deliveries.map((d) => d.messageId);
  t.equal(new Set(got).size, got.length, 'no Message-ID twice');
  t.ok(
    got.every((id) => ids.includes(id)),
    'only submitted messages',
  );
  const senders = new Set(receiver.deliveries.map((d) => d.messageId.split('-')[1]));
  t.equal(senders.size, 4, 'every Haraka delivered its share');
}

t.test('three hosts and a cluster-mode Haraka share one lane through one Redis', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  await scenario(t, `url=${redis.url}`);
});

t.test('the same on a three-master Redis Cluster', async (t) => {
  const cluster = await startRedisCluster({ masters: 3 });
  t.teardown(() => cluster.stop());
  await scenario(t, `cluster=${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`);
});
