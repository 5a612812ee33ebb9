/**
 * The store a Haraka process uses: the embedded memory store, or Redis
 * behind the fallback that keeps mail moving through an outage.
 */

import fs from 'node:fs';
import path from 'node:path';
import { describeRedis } from '../config/redis-settings';
import type { Config } from '../config/types';
import { FallbackStore } from './fallback';
import { MemoryStore } from './memory';
import { RedisStore } from './redis';
import { createRedisClient } from './redis-client';
import { laneKey, type LaneRef, type PacingStore } from './types';
import type { WarmRecord } from '../core/warmup';
import type { SourceHealth, SourceTrouble } from '../engine/source-health';
import type { WaitingLane, WaitingMessages } from '../engine/waiting';

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

/** Name of the file the memory store's lanes are written to, in the Haraka directory, for `paceline status`. */
export const SNAPSHOT_FILE = 'paceline-status.json';

/** How often the memory store's snapshot is written (ms); `status` calls one older than 3 × this stale. */
export const SNAPSHOT_EVERY_MS = 10_000;

/**
 * With the memory store, nothing outside the Haraka process can read the
 * lanes: write them to `<dir>/paceline-status.json` every `everyMs`
 * (atomically, by rename). Returns a function that stops it.
 */
export function startSnapshots(store: PacingStore, dir: string, everyMs = SNAPSHOT_EVERY_MS): () => void {
  const file = path.join(dir, SNAPSHOT_FILE);
  const write = async () => {
    try {
      const { now, value } = await store.lanes();
      const warm = await warmRecords(store, value.map((l) => l.lane));
      const counts = (await store.tallies(value.map((l) => l.lane))).value;
      const tallies = value.map((l, i) => [laneKey(l.lane), counts[i] ?? {}]);
      const why = (await store.reasons(value.map((l) => l.lane))).value;
      const reasons = value.flatMap((l, i) => (why[i] ? [[laneKey(l.lane), why[i]]] : []));
      const tmp = `${file}.${process.pid}.tmp`;
      await fs.promises.writeFile(tmp, JSON.stringify({ now, pid: process.pid, lanes: value, warm: [...warm], tallies, reasons }));
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

/** Prefix of the per-process files listing the sources with failures (`paceline-sources-<pid>.json`). */
export const SOURCES_FILE_PREFIX = 'paceline-sources-';

/** A sources file older than this is a process that is gone (ms); status ignores it. */
export const SOURCES_FILE_STALE_MS = 60_000;

/** What one process's sources file holds. */
export interface SourcesSnapshot {
  readonly now: number;
  readonly pid: number;
  readonly sources: readonly SourceTrouble[];
  /** The messages this process told Haraka to wait, by lane (absent in files of older versions). */
  readonly waiting?: readonly WaitingLane[];
}

/**
 * Source down marks live in each process (lib/source-health.ts), whatever the
 * store: each process writes its own `<dir>/paceline-sources-<pid>.json`
 * every `everyMs` and whenever `write()` is called (a source marked down or
 * back), for `paceline status`. `stop()` ends it and removes the file.
 */
export function startSourceSnapshots(
  health: SourceHealth,
  dir: string,
  clock: () => number,
  everyMs = 10_000,
  waiting?: WaitingMessages,
): { write(): void; stop(): void } {
  const file = path.join(dir, `${SOURCES_FILE_PREFIX}${process.pid}.json`);
  const write = () => {
    try {
      const now = clock();
      const snap: SourcesSnapshot = { now, pid: process.pid, sources: health.troubles(now), ...(waiting ? { waiting: waiting.lanes() } : {}) };
      fs.writeFileSync(`${file}.tmp`, JSON.stringify(snap));
      fs.renameSync(`${file}.tmp`, file);
    } catch {
      // a status snapshot is a convenience; pacing never depends on it
    }
  };
  const timer = setInterval(write, everyMs);
  timer.unref();
  write();
  return {
    write,
    stop: () => {
      clearInterval(timer);
      fs.rmSync(file, { force: true });
    },
  };
}

/** The sources files of the processes in `dir` written in the last minute (by `now`, the reader's clock). */
export function readSourceSnapshots(dir: string, now: number): SourcesSnapshot[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.startsWith(SOURCES_FILE_PREFIX) && n.endsWith('.json'));
  } catch {
    return [];
  }
  const snaps: SourcesSnapshot[] = [];
  for (const name of names) {
    try {
      const snap = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as SourcesSnapshot;
      if (now - snap.now <= SOURCES_FILE_STALE_MS && Array.isArray(snap.sources)) snaps.push(snap);
    } catch {
      // a file being replaced or left half-written by a crash: the next write replaces it
    }
  }
  return snaps.sort((a, b) => a.pid - b.pid);
}
