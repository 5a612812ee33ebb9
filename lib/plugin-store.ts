/**
 * The store a Haraka process uses: the embedded memory store, or Redis
 * behind the fallback that keeps mail moving through an outage.
 */

import fs from 'node:fs';
import path from 'node:path';
import { describeRedis } from './config/redis-settings';
import type { Config } from './config/types';
import { FallbackStore } from './store/fallback';
import { MemoryStore } from './store/memory';
import { RedisStore } from './store/redis';
import { createRedisClient } from './store/redis-client';
import type { LaneRef, PacingStore } from './store/types';
import type { WarmRecord } from './core/warmup';
import type { Outcomes } from './outcomes';

export interface StoreLog {
  (level: 'error' | 'notice' | 'info', text: string): void;
}

/** How long Redis connection errors stay quiet after one was logged. */
const ERROR_LOG_EVERY_MS = 60_000;

/** Opens the configured store; connection errors are logged at most once a minute. */
export function openStore(config: Config, clock: () => number, log: StoreLog): { store: PacingStore; describe: string } {
  const r = config.settings.redis;
  if (config.settings.store !== 'redis' || !r) return { store: new MemoryStore(clock), describe: 'memory' };
  const client = createRedisClient(r.connection);
  let lastLogged = 0;
  client.on('error', (err: Error) => {
    const now = Date.now();
    if (now - lastLogged < ERROR_LOG_EVERY_MS) return;
    lastLogged = now;
    log('error', `paceline: Redis connection: ${err.message}`);
  });
  const redis = new RedisStore(client, { prefix: r.prefix });
  const store = new FallbackStore(redis, {
    policy: r.onStoreError,
    clusterSize: r.clusterSize,
    retryMs: r.retryAfterMs,
    delayMs: 30_000,
    log: (level, text) => log(level, text),
    clock,
  });
  return { store, describe: describeRedis(r) };
}

/**
 * At start, drops the leases this node took in its earlier boots (their
 * deliveries died with it), then renews the leases of the deliveries in
 * flight every third of `lease_ttl`. Returns a function that stops renewing.
 */
export function startLeases(engine: Outcomes, log: StoreLog): () => void {
  const { node, boot } = engine.leases.identity;
  engine.leases.releaseEarlierBoots().then(
    (n) => log('notice', `paceline: node ${node} boot ${boot}: released ${n} leases of its earlier boots`),
    (err: Error) => log('error', `paceline: could not release the leases of earlier boots (they expire in lease_ttl): ${err.message}`),
  );
  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    engine.renewLeases().catch((err: Error) => log('error', `paceline: lease renewal failed: ${err.message}`));
    timer = setTimeout(tick, Math.max(500, engine.current.settings.leaseTtlMs / 3));
    timer.unref();
  };
  timer = setTimeout(tick, Math.max(500, engine.current.settings.leaseTtlMs / 3));
  timer.unref();
  return () => clearTimeout(timer);
}

/** Name of the file the memory store's lanes are written to, in the Haraka directory, for `paceline status`. */
export const SNAPSHOT_FILE = 'paceline-status.json';

/**
 * With the memory store, nothing outside the Haraka process can read the
 * lanes: write them to `<dir>/paceline-status.json` every `everyMs`
 * (atomically, by rename). Returns a function that stops it.
 */
export function startSnapshots(store: PacingStore, dir: string, everyMs = 10_000): () => void {
  const file = path.join(dir, SNAPSHOT_FILE);
  const write = async () => {
    try {
      const { now, value } = await store.lanes();
      const warm = await warmRecords(store, value.map((l) => l.lane));
      const tmp = `${file}.${process.pid}.tmp`;
      await fs.promises.writeFile(tmp, JSON.stringify({ now, pid: process.pid, lanes: value, warm: [...warm] }));
      await fs.promises.rename(tmp, file);
    } catch {
      // a status snapshot is a convenience; pacing never depends on it
    }
  };
  const timer = setInterval(() => void write(), everyMs);
  timer.unref();
  void write();
  return () => clearInterval(timer);
}

/** The warm-up records of some lanes, by `source|provider`. */
export async function warmRecords(store: PacingStore, lanes: readonly LaneRef[]): Promise<Map<string, WarmRecord>> {
  const records = await Promise.all(lanes.map((l) => store.warmRecord(l)));
  const out = new Map<string, WarmRecord>();
  lanes.forEach((l, i) => {
    const r = records[i];
    if (r) out.set(`${l.source}|${l.provider}`, r);
  });
  return out;
}
