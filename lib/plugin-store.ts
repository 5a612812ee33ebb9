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
import { restoreState, startPersisting, STATE_FILE } from './store/memory-file';
import { RedisStore } from './store/redis';
import { createRedisClient } from './store/redis-client';
import type { LaneRef, PacingStore } from './store/types';
import type { WarmRecord } from './core/warmup';

export interface StoreLog {
  (level: 'error' | 'warn' | 'notice' | 'info', text: string): void;
}

/** How long Redis connection errors stay quiet after one was logged. */
const ERROR_LOG_EVERY_MS = 60_000;

/** Opens the configured store; connection errors are logged at most once a minute. */
export function openStore(config: Config, clock: () => number, log: StoreLog): { store: PacingStore; describe: string } {
  const r = config.settings.redis;
  if (config.settings.store !== 'redis' || !r) {
    return { store: new MemoryStore(clock, { maxIdleLanes: config.settings.memory.maxIdleLanes }), describe: 'memory' };
  }
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
 * Keeps the memory store across restarts: restores `<dir>/paceline-state.json`,
 * writes it every 2 s while the state changes, and once more when the process
 * ends (Haraka's shutdown hook calls the returned function; SIGTERM, which
 * Haraka leaves to Node's default, and `process.exit` are caught here). After
 * its write on SIGTERM the signal is raised again, so the process still ends
 * as it would have.
 */
export function persistMemory(store: MemoryStore, dir: string, log: StoreLog): () => void {
  const file = path.join(dir, STATE_FILE);
  restoreState(store, file, log);
  const persister = startPersisting(store, file, log);
  const onTerm = () => {
    persister.flush();
    process.removeListener('SIGTERM', onTerm);
    if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
  };
  const onExit = () => persister.flush();
  process.on('SIGTERM', onTerm);
  process.on('exit', onExit);
  return () => {
    persister.flush();
    process.removeListener('SIGTERM', onTerm);
    process.removeListener('exit', onExit);
  };
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
