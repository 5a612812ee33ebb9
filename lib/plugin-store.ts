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
import { asControl, type Control } from './core/control';

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

/**
 * With the memory store, nothing outside the Haraka process can read the
 * lanes: write them to `<dir>/paceline-status.json` every `everyMs`
 * (atomically, by rename). Returns a function that stops it.
 */
export function startSnapshots(store: PacingStore, dir: string, everyMs = 10_000): { stop: () => void; write: () => Promise<void> } {
  const file = path.join(dir, SNAPSHOT_FILE);
  const write = async () => {
    try {
      const { now, value } = await store.lanes();
      const warm = await warmRecords(store, value.map((l) => l.lane));
      const controls = (await store.controls()).value;
      await writeAtomically(file, JSON.stringify({ now, pid: process.pid, lanes: value, warm: [...warm], controls }));
    } catch {
      // a status snapshot is a convenience; pacing never depends on it
    }
  };
  const timer = setInterval(() => void write(), everyMs);
  timer.unref();
  void write();
  return { stop: () => clearInterval(timer), write };
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.promises.writeFile(tmp, text);
  await fs.promises.rename(tmp, file);
}

/** Where the memory store's operator controls are kept across restarts, in the Haraka directory. */
export const CONTROLS_FILE = 'paceline-controls.json';

/** Writes the memory store's controls in force to `<dir>/paceline-controls.json` (atomically, by rename). */
export async function saveControls(store: PacingStore, dir: string): Promise<void> {
  const { value } = await store.controls();
  await writeAtomically(path.join(dir, CONTROLS_FILE), `${JSON.stringify({ controls: value }, null, 1)}\n`);
}

/**
 * Reads `<dir>/paceline-controls.json` back into a memory store at start;
 * ended controls are dropped. An unreadable entry is reported and skipped; an
 * unreadable file is reported and moved aside (`.unreadable`), never
 * overwritten by the next action.
 */
export function restoreControls(store: MemoryStore, dir: string, log: StoreLog): void {
  const file = path.join(dir, CONTROLS_FILE);
  if (!fs.existsSync(file)) return;
  try {
    const raw = JSON.parse(fs.readFileSync(file, 'utf8')) as { controls?: unknown };
    const list = Array.isArray(raw.controls) ? raw.controls : [];
    const good = list.map(asControl).filter((c): c is Control => c !== undefined);
    if (good.length !== list.length || !Array.isArray(raw.controls)) log('error', `paceline: ${file}: ${list.length - good.length} unreadable control(s) ignored`);
    store.restoreControls(good);
    if (good.length > 0) log('notice', `paceline: ${good.length} operator control(s) restored from ${file}`);
  } catch (err) {
    fs.renameSync(file, `${file}.unreadable`);
    log('error', `paceline: ${file} is unreadable (moved to ${file}.unreadable), no operator control restored: ${(err as Error).message}`);
  }
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
