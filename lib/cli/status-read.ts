/**
 * Where `paceline status` reads from: the shared store (Redis: lanes,
 * provider states, controls, and every process's report) or, with the memory
 * store, the snapshot the running Haraka writes every 10 s and the
 * per-process files beside it.
 */

import fs from 'node:fs';
import path from 'node:path';
import type { LaneState } from '../core/lane-state';
import type { Config } from '../config/types';
import {
  laneOutcomes,
  providerStates,
  readSourceSnapshots,
  SNAPSHOT_EVERY_MS,
  SNAPSHOT_FILE,
  warmRecords,
} from '../store/open';
import type { WarmRecord } from '../core/warmup';
import type { ProviderState } from '../core/provider-state';
import { openRedisStore } from '../store/redis-client';
import { readReports } from '../store/reports';
import type { LaneReason, LaneRef } from '../store/types';
import type { TallyFields } from '../core/tally';
import type { WaitingLane } from '../core/waiting';
import type { ProcessTrouble } from '../engine/status-sources';
import { asControl, inForce, type Control } from '../core/control';

/** How a memory-store snapshot stands: who wrote it, when, and whether that process still runs. */
export interface SnapshotInfo {
  file: string;
  writtenAt: string;
  ageS: number;
  pid: number | null;
  /** The writing process still runs (null when the file names no pid). */
  pidAlive: boolean | null;
  /** Older than 3 × the 10 s interval it is written at. */
  stale: boolean;
}

/** Everything status shows, as read. */
export interface StatusData {
  now: number;
  lanes: Array<{ lane: LaneRef; state: LaneState }>;
  warm: Map<string, WarmRecord>;
  /** Outcome counter fields by lane key. */
  tallies: Map<string, TallyFields>;
  /** The last reaction's reason by lane key. */
  reasons: Map<string, LaneReason>;
  /** Provider-wide incident state, by provider. */
  providers: Map<string, ProviderState>;
  /** The operator controls in force. */
  controls: Control[];
  /** Each process's sources with failures, and the messages waiting (each process's lists, not yet summed). */
  troubles: ProcessTrouble[];
  waiting: Array<readonly WaitingLane[]>;
  /** Processes whose reports or files were read, and how many messages each has told to wait. */
  processes: Array<{ node: string | null; pid: number; reportedAt: string; waiting: number }>;
  from: string;
  snapshot: SnapshotInfo | null;
}

const count = (list: readonly WaitingLane[]): number => list.reduce((n, w) => n + w.count, 0);

/** Whether process `pid` runs on this host (EPERM: it runs as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readRedis(r: NonNullable<Config['settings']['redis']>): Promise<StatusData> {
  const store = await openRedisStore(r.connection, r.prefix);
  try {
    const { now, value } = await store.lanes();
    const refs = value.map((l) => l.lane);
    const { tallies, reasons } = await laneOutcomes(store, refs);
    const controls = (await store.controls()).value;
    const reports = await readReports(store);
    return {
      now,
      lanes: value,
      warm: await warmRecords(store, refs),
      tallies,
      reasons,
      providers: await providerStates(store, refs, controls),
      controls,
      troubles: reports.flatMap((p) => p.sources.map((s) => ({ ...s, pid: p.pid, node: p.node }))),
      waiting: reports.map((p) => p.waiting),
      processes: reports.map((p) => ({
        node: p.node,
        pid: p.pid,
        reportedAt: new Date(p.now).toISOString(),
        waiting: count(p.waiting),
      })),
      from: 'redis',
      snapshot: null,
    };
  } finally {
    await store.close();
  }
}

interface SnapshotFile {
  now: number;
  pid?: number;
  lanes: StatusData['lanes'];
  warm?: Array<[string, WarmRecord]>;
  tallies?: Array<[string, TallyFields]>;
  reasons?: Array<[string, LaneReason]>;
  providers?: Array<[string, ProviderState]>;
  controls?: unknown[];
}

function snapshotInfo(file: string, snap: SnapshotFile): SnapshotInfo {
  const ageMs = Math.max(0, Date.now() - snap.now);
  const pid = typeof snap.pid === 'number' ? snap.pid : null;
  return {
    file,
    writtenAt: new Date(snap.now).toISOString(),
    ageS: Math.round(ageMs / 1000),
    pid,
    pidAlive: pid === null ? null : alive(pid),
    stale: ageMs > 3 * SNAPSHOT_EVERY_MS,
  };
}

function readMemory(dir: string): StatusData {
  const file = path.join(dir, SNAPSHOT_FILE);
  if (!fs.existsSync(file))
    throw new Error(`no ${file}: is Haraka with paceline running in ${dir}? (the memory store writes it every 10 s)`);
  const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as SnapshotFile;
  const controls = (snap.controls ?? [])
    .map(asControl)
    .filter((c): c is Control => c !== undefined && inForce(c, Date.now()));
  const snapshot = snapshotInfo(file, snap);
  const files = readSourceSnapshots(dir, Date.now());
  return {
    now: snap.now,
    lanes: snap.lanes,
    warm: new Map(snap.warm ?? []),
    tallies: new Map(snap.tallies ?? []),
    reasons: new Map(snap.reasons ?? []),
    providers: new Map(snap.providers ?? []),
    controls,
    troubles: files.flatMap((f) => f.sources.map((s) => ({ ...s, pid: f.pid }))),
    waiting: files.map((f) => f.waiting ?? []),
    processes: files.map((f) => ({
      node: null,
      pid: f.pid,
      reportedAt: new Date(f.now).toISOString(),
      waiting: count(f.waiting ?? []),
    })),
    from: `${file} (written ${snapshot.ageS} s ago)`,
    snapshot,
  };
}

/** Reads what status shows from the configured store; throws when it cannot. */
export async function readStatus(config: Config, dir: string): Promise<StatusData> {
  const r = config.settings.redis;
  return config.settings.store === 'redis' && r ? readRedis(r) : readMemory(dir);
}
