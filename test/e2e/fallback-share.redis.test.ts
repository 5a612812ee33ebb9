/**
 * Issue 11 item 1: while Redis is away, a node delivers its share of the lane's
 * limit (R / cluster_size) from the first second, and when Redis comes back the
 * lane goes back to the shared pace without a burst above R + burst in any
 * second. Three outages on one real Haraka (cluster_size=2, so the share is
 * R / 2) with a backlog queued at once: Redis unreachable at start for the
 * whole run, unreachable at start and back after 10 s, killed mid-run.
 */
import t, { type Test } from 'tap';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import { startReceiver, type Receiver } from '../helpers/receiver';
import { startRedis, type RedisServer } from '../helpers/redis';
import { maxInWindow, startAll, submitBacklog } from '../helpers/shared-run';
import type { HarakaProcess } from '../helpers/haraka';

const R = 10;
const BURST = 2;
const NODES = 2;
const SHARE = R / NODES;
/** The local store's burst at the share: floor(BURST / NODES), at least 1. */
const SHARE_BURST = Math.max(1, Math.floor(BURST / NODES));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const load = () => fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

async function setUp(t: Test, redis: RedisServer): Promise<{ receiver: Receiver; haraka: HarakaProcess }> {
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const extraIni = `on_store_error=local\ncluster_size=${NODES}\ncommand_timeout=300ms\nretry_after=2s\n`;
  const setup = { redis: `url=${redis.url}`, rate: R, burst: BURST, processes: [0], extraIni, adaptIni: 'start=1' };
  const [haraka] = await startAll(receiver, setup, `s${randomUUID().slice(0, 8)}`);
  t.teardown(() => haraka?.stop());
  return { receiver, haraka: haraka as HarakaProcess };
}

/** Deliveries received in [from, to). */
function between(receiver: Receiver, from: number, to: number): number[] {
  return receiver.deliveries.map((d) => d.receivedAt).filter((x) => x >= from && x < to);
}

/**
 * The outage window [from, to): at least 90 % of the share delivered, and no
 * more than the share allows (its burst, plus one for a delivery granted just
 * before the window and received in it).
 */
function assertShare(t: Test, receiver: Receiver, from: number, to: number, what: string): void {
  const seconds = (to - from) / 1000;
  const got = between(receiver, from, to).length;
  const share = SHARE * seconds;
  const ratio = Math.round((100 * got) / share);
  t.comment(`| ${what} | ${seconds.toFixed(1)} s | ${got} | ${share.toFixed(1)} | ${ratio} % | load ${load()} |`);
  const of = `${got} of ${share.toFixed(1)} in ${seconds.toFixed(1)} s`;
  t.ok(got >= 0.9 * share, `${what}: at least 90 % of the share delivered during the outage (${of})`);
  const most = `${got} ≤ ${share.toFixed(1)} + ${SHARE_BURST + 1}`;
  t.ok(got <= share + SHARE_BURST + 1, `${what}: no more than the share (${most})`);
}

/**
 * Time the node may take to pace at R again once Redis is back: its probe runs
 * every retry_after (2 s); a message booked locally comes back at least every
 * retry_after and books on Redis; Haraka's delay queue adds up to 1 s.
 */
const NOTICE_MS = 5000;

/**
 * After Redis is back: the busiest second stays within R + burst, and once the
 * node has noticed, the lane runs above its share (the shared pace, R).
 */
function assertResumed(t: Test, receiver: Receiver, from: number, what: string): void {
  const after = between(receiver, from, Infinity);
  const worst = maxInWindow(after, 1000);
  const shared = after.filter((x) => x >= from + NOTICE_MS);
  const span = shared.length > 1 ? (shared.at(-1) as number) - (shared[0] as number) : 0;
  const rate = span > 0 ? ((shared.length - 1) * 1000) / span : 0;
  const later = `${NOTICE_MS / 1000} s after`;
  t.comment(
    `| ${what} | ${after.length} after Redis came back | ${rate.toFixed(1)}/s from ${later} (R = ${R}) ` +
      `| busiest second ${worst} (R + burst = ${R + BURST}) | load ${load()} |`,
  );
  t.ok(shared.length >= 10, `${what}: mail kept flowing after Redis came back (${shared.length} from ${later})`);
  t.ok(rate > 1.4 * SHARE, `${what}: the shared pace, above the share (${rate.toFixed(1)}/s > ${1.4 * SHARE}/s)`);
  t.ok(worst <= R + BURST, `${what}: no second above R + burst after Redis came back (${worst} ≤ ${R + BURST})`);
}

function assertOnce(t: Test, receiver: Receiver, ids: readonly string[], haraka: HarakaProcess): void {
  const got = receiver.deliveries.map((d) => d.messageId);
  t.equal(new Set(got).size, got.length, 'no message twice');
  t.same([...got].sort(), [...ids].sort(), `every Message-ID arrived once (${got.length} of ${ids.length})`);
  t.notMatch(haraka.log(), /bounc/i, 'nothing bounced');
}

t.test('Redis unreachable at start and for the whole run: the share from the first second', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  await redis.kill();
  const { receiver, haraka } = await setUp(t, redis);
  const ids = await submitBacklog([haraka], 90, 'down');
  const from = Date.now();
  await sleep(12_000);
  assertShare(t, receiver, from, Date.now(), 'down for the whole run');
  await receiver.waitFor(ids.length, 45_000);
  await sleep(1000);
  assertOnce(t, receiver, ids, haraka);
  t.equal((haraka.log().match(/shared store failed/g) ?? []).length, 1, 'the outage is logged once');
});

t.test('Redis unreachable at start, back after 10 s: the share, then the shared pace', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  await redis.kill();
  const { receiver, haraka } = await setUp(t, redis);
  const ids = await submitBacklog([haraka], 150, 'late');
  const from = Date.now();
  await sleep(10_000);
  await redis.restart();
  const back = Date.now();
  assertShare(t, receiver, from, back, 'down at start, back after 10 s');
  await receiver.waitFor(ids.length, 45_000);
  await sleep(1000);
  assertResumed(t, receiver, back, 'down at start, back after 10 s');
  assertOnce(t, receiver, ids, haraka);
  t.match(haraka.log(), /shared store is back after \d+s; shared pacing resumed/, 'the end of the outage is logged');
});

t.test('Redis killed mid-run and started again: the share, then the shared pace', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const { receiver, haraka } = await setUp(t, redis);
  const ids = await submitBacklog([haraka], 150, 'mid');
  await receiver.waitFor(20, 20_000);
  await redis.kill();
  const down = Date.now();
  await sleep(8000);
  await redis.restart();
  const back = Date.now();
  assertShare(t, receiver, down, back, 'killed mid-run for 8 s');
  await receiver.waitFor(ids.length, 45_000);
  await sleep(1000);
  assertResumed(t, receiver, back, 'killed mid-run for 8 s');
  assertOnce(t, receiver, ids, haraka);
  t.equal((haraka.log().match(/shared store failed/g) ?? []).length, 1, 'the outage is logged once');
});
