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
import { restoreState, startPersisting, STATE_FILE } from './memory-file';
import { RedisStore } from './redis';
import { createRedisClient } from './redis-client';
import { redact, secretsOf } from '../config/redis-url';
import type { WarmRecord } from '../core/warmup';
import type { SourceHealth, SourceTrouble } from '../core/source-health';
import { asControl, type Control } from '../core/control';
import { laneKey, type LaneReason, type LaneRef, type PacingStore } from './types';
import type { TallyFields } from '../core/tally';
import type { ProviderState } from '../core/provider-state';
import type { WaitingLane, WaitingMessages } from '../core/waiting';
import { periodic } from './periodic';

export interface StoreLog {
  (level: 'error' | 'warn' | 'notice' | 'info', text: string): void;
}

/** How long Redis connection errors stay quiet after one was logged. */
const ERROR_LOG_EVERY_MS = 60_000;

/** Opens the configured store; connection errors are logged at most once a minute. */
export function openStore(
  config: Config,
  clock: () => number,
  log: StoreLog,
): { store: PacingStore; describe: string } {
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
    log('error', redact(`paceline: Redis connection: ${err.message}`, secretsOf(r.connection)));
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

/** How often the memory store's snapshot is written (ms); `status` calls one older than 3 × this stale. */
export const SNAPSHOT_EVERY_MS = 10_000;

/**
 * With the memory store, nothing outside the Haraka process can read the
 * lanes: write them to `<dir>/paceline-status.json` every `everyMs`
 * (atomically, by rename). Returns a function that stops it.
 */
export function startSnapshots(
  store: PacingStore,
  dir: string,
  everyMs = SNAPSHOT_EVERY_MS,
): { stop: () => void; write: () => Promise<void> } {
  const file = path.join(dir, SNAPSHOT_FILE);
  const write = async () => {
    try {
      const { now, value } = await store.lanes();
      const refs = value.map((l) => l.lane);
      const warm = await warmRecords(store, refs);
      const controls = (await store.controls()).value;
      const { tallies, reasons } = await laneOutcomes(store, refs);
      const providers = await providerStates(store, refs, controls);
      const snapshot = {
        now,
        pid: process.pid,
        lanes: value,
        warm: [...warm],
        controls,
        tallies: [...tallies],
        reasons: [...reasons],
        providers: [...providers],
      };
      await writeAtomically(file, JSON.stringify(snapshot));
    } catch {
      // a status snapshot is a convenience; pacing never depends on it
    }
  };
  const { stop } = periodic(() => void write(), everyMs);
  return { stop, write };
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
    if (good.length !== list.length || !Array.isArray(raw.controls))
      log('error', `paceline: ${file}: ${list.length - good.length} unreadable control(s) ignored`);
    store.restoreControls(good);
    if (good.length > 0) log('notice', `paceline: ${good.length} operator control(s) restored from ${file}`);
  } catch (err) {
    fs.renameSync(file, `${file}.unreadable`);
    log(
      'error',
      `paceline: ${file} is unreadable (moved to ${file}.unreadable), no operator control restored: ${(err as Error).message}`,
    );
  }
}

/** The warm-up records of some lanes, by `source|provider`. */
export async function warmRecords(store: PacingStore, lanes: readonly LaneRef[]): Promise<Map<string, WarmRecord>> {
  const records = await Promise.all(lanes.map((l) => store.warmRecord(l)));
  const out = new Map<string, WarmRecord>();
  lanes.forEach((l, i) => {
    const r = records[i];
    if (r) out.set(laneKey(l), r);
  });
  return out;
}

/** Each lane's outcome counters and the reason of its state, by lane key (what `status` shows beside the lanes). */
export async function laneOutcomes(
  store: PacingStore,
  lanes: readonly LaneRef[],
): Promise<{ tallies: Map<string, TallyFields>; reasons: Map<string, LaneReason> }> {
  const counts = (await store.tallies(lanes)).value;
  const why = (await store.reasons(lanes)).value;
  const tallies = new Map(lanes.map((l, i) => [laneKey(l), counts[i] ?? {}]));
  const reasons = new Map(lanes.flatMap((l, i): Array<[string, LaneReason]> => (why[i] ? [[laneKey(l), why[i]]] : [])));
  return { tallies, reasons };
}

/**
 * The incident state of the providers of some lanes and of those an operator
 * paused, by provider (one provider peek each).
 */
export async function providerStates(
  store: PacingStore,
  lanes: readonly LaneRef[],
  controls: readonly Control[],
): Promise<Map<string, ProviderState>> {
  const names = new Set(lanes.map((l) => l.provider));
  for (const c of controls) if (c.target.kind === 'provider') names.add(c.target.provider);
  const sorted = [...names].sort();
  const states = await Promise.all(sorted.map(async (p) => (await store.peek([], p)).value.provider));
  return new Map(sorted.map((p, i) => [p, states[i] as ProviderState]));
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
 * Source down marks live in each process (lib/core/source-health.ts), whatever the
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
      const snap: SourcesSnapshot = {
        now,
        pid: process.pid,
        sources: health.troubles(now),
        ...(waiting ? { waiting: waiting.lanes() } : {}),
      };
      fs.writeFileSync(`${file}.tmp`, JSON.stringify(snap));
      fs.renameSync(`${file}.tmp`, file);
    } catch {
      // a status snapshot is a convenience; pacing never depends on it
    }
  };
  return periodic(write, everyMs, () => fs.rmSync(file, { force: true }));
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
