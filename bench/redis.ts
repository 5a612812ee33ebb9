/**
 * The Redis store against a baseline measured in the same run, on one
 * redis-server started here:
 *  - baseline: redis-benchmark INCR throughput (50 clients);
 *  - decisions/s: RedisStore.acquire from one Node process, many concurrent
 *    calls, auto-pipelining (target ≥ 0.25 × INCR/s);
 *  - latency p50/p99 at an offered 2,000 decisions/s for 10 s (target p99 ≤ 2 ms),
 *    with 2,000 INCR/s interleaved on a second connection (what the machine allows);
 *  - memory per active lane: INFO used_memory before/after 10,000 lanes with
 *    one lease each (target ≤ 1 KiB).
 * Figures are printed, not asserted.
 */

import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { parseRate, type Rate } from '../lib/core/rate';
import type { LaneLimits } from '../lib/core/lane-state';
import { RedisStore } from '../lib/store/redis';
import { info, startRedis, type RedisServer } from '../test/helpers/redis';

const LIMITS: LaneLimits = { rate: parseRate('1000/s,burst=50') as Rate, concurrency: 1000, perDay: 100_000_000 };
const LANES = Array.from({ length: 1000 }, (_, i) => ({
  source: `10.0.${i >> 8}.${i & 255}`,
  provider: i % 3 ? 'google' : 'microsoft365',
}));

function line(label: string, value: string): void {
  console.log(`${label.padEnd(52)} ${value}`);
}

/** INCR requests/s from redis-benchmark -t incr -c 50 -n 200000 -q. */
function incrPerSecond(port: number): Promise<number> {
  const args = ['-h', '127.0.0.1', '-p', String(port), '-t', 'incr', '-c', '50', '-n', '200000', '-q'];
  return new Promise((resolve, reject) =>
    execFile('redis-benchmark', args, { timeout: 120_000 }, (err, stdout) => {
      const m = /INCR: ([\d.]+) requests per second/.exec(stdout.replace(/\r/g, '\n'));
      if (err || !m) reject(err ?? new Error(`unexpected redis-benchmark output: ${stdout}`));
      else resolve(Number(m[1]));
    }),
  );
}

function acquire(store: RedisStore, i: number) {
  return store.acquire(LANES[i % LANES.length] as (typeof LANES)[number], LIMITS, {
    mode: 'now',
    leaseId: `b${i}`,
    leaseMs: 1000,
  });
}

/** Closed loop: `workers` concurrent callers, each awaiting one acquire after another, for `n` decisions. */
async function throughput(store: RedisStore, n: number, workers = 512): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < n) await acquire(store, next++);
    }),
  );
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** p50 and p99 of latency samples, ms. */
function percentiles(samples: number[]): [number, number] {
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] as number;
  return [at(0.5), at(0.99)];
}

/**
 * Open loop: every call in `calls` is issued `rate` times a second (timers
 * catch up), interleaved, so that all of them meet the same hiccups of this
 * shared machine; returns [p50, p99] in ms for each.
 */
async function latency(
  calls: ReadonlyArray<(i: number) => Promise<unknown>>,
  rate: number,
  seconds: number,
): Promise<Array<[number, number]>> {
  const samples: number[][] = calls.map(() => []);
  const pending: Array<Promise<unknown>> = [];
  const total = rate * seconds;
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      for (; sent < due; sent++) {
        calls.forEach((call, k) => {
          const t0 = performance.now();
          pending.push(call(sent).then(() => (samples[k] as number[]).push(performance.now() - t0)));
        });
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  await Promise.all(pending);
  return samples.map(percentiles);
}

/** used_memory growth per lane after `count` new lanes with one lease (a UUID, as the engine uses) each. */
async function bytesPerLane(server: RedisServer, client: Redis, count: number): Promise<number> {
  const store = new RedisStore(client, { prefix: 'bench-mem:' });
  await store.peek([{ source: 'warm', provider: 'up' }], 'up');
  const before = Number((await info(server.port, 'memory')).get('used_memory'));
  for (let i = 0; i < count; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, count - i) }, (_, j) =>
        store.acquire({ source: `192.0.${(i + j) >> 8}.${(i + j) & 255}`, provider: 'google' }, LIMITS, {
          mode: 'now',
          leaseId: randomUUID(),
          leaseMs: 900_000,
        }),
      ),
    );
  }
  const after = Number((await info(server.port, 'memory')).get('used_memory'));
  return (after - before) / count;
}

export interface RedisBench {
  incrPerSecond: number;
  decisionsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** INCR on a second connection, interleaved with the acquires: what the machine allows right now. */
  incrP50Ms: number;
  incrP99Ms: number;
  bytesPerLane: number;
}

function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

export async function benchRedis(): Promise<RedisBench> {
  const server = await startRedis();
  const client = new Redis(server.port, server.host, { enableAutoPipelining: true });
  try {
    const incr = await incrPerSecond(server.port);
    const store = new RedisStore(client, { prefix: `bench:${randomUUID().slice(0, 8)}:` });
    await throughput(store, 20_000);
    collectGarbage();
    const other = new Redis(server.port, server.host, { enableAutoPipelining: true });
    const [incrLatency, acquireLatency] = await latency(
      [() => other.incr('bench:counter'), (i) => acquire(store, i)],
      2000,
      10,
    );
    other.disconnect();
    const [incrP50, incrP99] = incrLatency as [number, number];
    const [p50, p99] = acquireLatency as [number, number];
    collectGarbage();
    const decisions = await throughput(store, 200_000);
    const perLane = await bytesPerLane(server, client, 10_000);
    return {
      incrPerSecond: incr,
      decisionsPerSecond: decisions,
      p50Ms: p50,
      p99Ms: p99,
      incrP50Ms: incrP50,
      incrP99Ms: incrP99,
      bytesPerLane: perLane,
    };
  } finally {
    client.disconnect();
    await server.stop();
  }
}

/** Runs the benchmark and prints figures and ratios (called by bench/run.ts with --redis). */
export async function main(): Promise<void> {
  console.log('\nRedis store (one redis-server, one Node process)');
  const r = await benchRedis();
  line('baseline: redis-benchmark INCR/s (50 clients)', r.incrPerSecond.toFixed(0));
  line('RedisStore.acquire decisions/s (auto-pipelined)', r.decisionsPerSecond.toFixed(0));
  line(
    'ratio decisions/s ÷ INCR/s (target ≥ 0.25)',
    `${(r.decisionsPerSecond / r.incrPerSecond).toFixed(3)} ${r.decisionsPerSecond / r.incrPerSecond >= 0.25 ? 'met' : 'NOT met'}`,
  );
  line('baseline: INCR at 2,000/s alongside, p50 / p99 ms', `${r.incrP50Ms.toFixed(3)} / ${r.incrP99Ms.toFixed(3)}`);
  line(
    'acquire at 2,000/s, p50 / p99 ms (target p99 ≤ 2)',
    `${r.p50Ms.toFixed(3)} / ${r.p99Ms.toFixed(3)} ${r.p99Ms <= 2 ? 'met' : 'NOT met'}`,
  );
  line('ratio acquire p99 ÷ INCR p99', (r.p99Ms / r.incrP99Ms).toFixed(2));
  line(
    'Redis memory per active lane, bytes (target ≤ 1024)',
    `${r.bytesPerLane.toFixed(0)} ${r.bytesPerLane <= 1024 ? 'met' : 'NOT met'}`,
  );
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
