/**
 * `paceline status [--config HARAKA_DIR | HARAKA_DIR] [filters] [--json] [--watch [SECONDS]]`:
 * every lane with state, read from the shared store (Redis) or, with the
 * memory store, from the snapshot the running Haraka writes every 10 s.
 */

import fs from 'node:fs';
import path from 'node:path';
import type { LaneState } from '../core/lane-state';
import { loadConfigFromDir } from '../config/load';
import type { Config } from '../config/types';
import { laneOutcomes, readSourceSnapshots, SNAPSHOT_EVERY_MS, SNAPSHOT_FILE, warmRecords } from '../store/open';
import type { WarmRecord } from '../core/warmup';
import {
  jsonRow,
  sourceLines,
  statusRows,
  statusTable,
  unbookedLines,
  type SourceRow,
  type StatusRow,
} from '../engine/status-rows';
import { sumWaiting } from '../core/waiting';
import { parseStateKind, type StateKind } from '../engine/status-state';
import { openRedisStore } from '../store/redis-client';
import type { LaneReason, LaneRef } from '../store/types';
import type { TallyFields } from '../core/tally';
import { harakaDir } from './args';
import type { Output } from './check';
import { asControl, describeTarget, inForce, type Control } from '../core/control';

/** A control as `paceline status --json` shows it: times as ISO text, `until` null = until resumed. */
function controlRow(c: Control) {
  return {
    target: c.target,
    what: describeTarget(c.target),
    action: c.action,
    since: new Date(c.at).toISOString(),
    until: c.until ? new Date(c.until).toISOString() : null,
    who: c.who,
    reason: c.reason,
  };
}

function controlLine(c: Control): string {
  const until = c.until ? `until ${new Date(c.until).toISOString()}` : 'until resumed';
  return `${c.action} ${describeTarget(c.target)} ${until}, by ${c.who} since ${new Date(c.at).toISOString()}${c.reason ? `: ${c.reason}` : ''}`;
}

export const STATUS_USAGE = `usage: paceline status [--config HARAKA_DIR | HARAKA_DIR] [--json] [--provider P] [--source S] [--state KIND]
                       [--watch [SECONDS] [--count N]]`;

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

type Lanes = {
  now: number;
  lanes: Array<{ lane: LaneRef; state: LaneState }>;
  warm: Map<string, WarmRecord>;
  /** Outcome counter fields by lane key. */
  tallies: Map<string, TallyFields>;
  /** The last reaction's reason by lane key. */
  reasons: Map<string, LaneReason>;
  /** The operator controls in force. */
  controls: Control[];
  from: string;
  snapshot: SnapshotInfo | null;
};

interface StatusOptions {
  dir: string;
  json: boolean;
  provider?: string;
  source?: string;
  state?: StateKind;
  /** Seconds between prints with --watch; undefined = print once. */
  watchS?: number;
  /** Prints before --watch stops; undefined = until interrupted. */
  count?: number;
}

/** Whether process `pid` runs on this host (EPERM: it runs as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLanes(config: Config, dir: string): Promise<Lanes> {
  const r = config.settings.redis;
  if (config.settings.store === 'redis' && r) {
    const store = await openRedisStore(r.connection, r.prefix);
    try {
      const { now, value } = await store.lanes();
      const refs = value.map((l) => l.lane);
      const { tallies, reasons } = await laneOutcomes(store, refs);
      const controls = (await store.controls()).value;
      return {
        now,
        lanes: value,
        warm: await warmRecords(store, refs),
        tallies,
        reasons,
        controls,
        from: 'redis',
        snapshot: null,
      };
    } finally {
      await store.close();
    }
  }
  const file = path.join(dir, SNAPSHOT_FILE);
  if (!fs.existsSync(file))
    throw new Error(`no ${file}: is Haraka with paceline running in ${dir}? (the memory store writes it every 10 s)`);
  const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    now: number;
    pid?: number;
    lanes: Lanes['lanes'];
    warm?: Array<[string, WarmRecord]>;
    tallies?: Array<[string, TallyFields]>;
    reasons?: Array<[string, LaneReason]>;
    controls?: unknown[];
  };
  const controls = (snap.controls ?? [])
    .map(asControl)
    .filter((c): c is Control => c !== undefined && inForce(c, Date.now()));
  const ageMs = Math.max(0, Date.now() - snap.now);
  const pid = typeof snap.pid === 'number' ? snap.pid : null;
  const snapshot: SnapshotInfo = {
    file,
    writtenAt: new Date(snap.now).toISOString(),
    ageS: Math.round(ageMs / 1000),
    pid,
    pidAlive: pid === null ? null : alive(pid),
    stale: ageMs > 3 * SNAPSHOT_EVERY_MS,
  };
  return {
    now: snap.now,
    lanes: snap.lanes,
    warm: new Map(snap.warm ?? []),
    tallies: new Map(snap.tallies ?? []),
    reasons: new Map(snap.reasons ?? []),
    controls,
    from: `${file} (written ${snapshot.ageS} s ago)`,
    snapshot,
  };
}

/** Warnings about the data: a snapshot too old to trust, or one whose writer is gone. */
function notes(s: SnapshotInfo | null): string[] {
  if (!s) return [];
  const out: string[] = [];
  if (s.pidAlive === false)
    out.push(
      `the Haraka process that wrote this snapshot (pid ${s.pid}) is gone: these numbers are from ${s.writtenAt}`,
    );
  if (s.stale) out.push(`stale: the snapshot is ${s.ageS} s old (it is written every ${SNAPSHOT_EVERY_MS / 1000} s)`);
  return out;
}

/** Parses the arguments; a string is a usage error. */
function parseArgs(args: readonly string[]): StatusOptions | string {
  const o: Omit<StatusOptions, 'dir'> = { json: false };
  let config: string | undefined;
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const value = (): string | undefined => {
      const v = args[++i];
      return v === undefined || v === '' || v.startsWith('--') ? undefined : v;
    };
    if (a === '--json') o.json = true;
    else if (a === '--config') config = value() ?? '';
    else if (a === '--provider' || a === '--source') {
      const v = value();
      if (v === undefined) return `${a} needs a name`;
      o[a === '--provider' ? 'provider' : 'source'] = v;
    } else if (a === '--state') {
      const kind = parseStateKind(value());
      if (typeof kind === 'string') return kind;
      o.state = kind.kind;
    } else if (a === '--watch') {
      o.watchS = 2;
      if (/^\d+(\.\d+)?$/.test(args[i + 1] ?? '')) o.watchS = Number(args[++i]);
      if (!(o.watchS > 0)) return '--watch SECONDS must be more than 0';
    } else if (a === '--count') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) return '--count needs a whole number of at least 1';
      o.count = n;
    } else if (a.startsWith('-')) return `unknown option ${a}`;
    else positional.push(a);
  }
  if (positional.length > 1) return `unexpected argument ${positional[1]}`;
  if (o.count !== undefined && o.watchS === undefined) return '--count goes with --watch';
  const where = harakaDir(positional[0], config);
  return typeof where === 'string' ? where : { ...o, dir: where.dir };
}

function keep(o: StatusOptions, row: StatusRow): boolean {
  return (
    (!o.provider || row.provider === o.provider) &&
    (!o.source || row.source === o.source) &&
    (!o.state || row.detail.kinds.includes(o.state))
  );
}

/** One print of the status; throws on unreadable config or store. */
async function printOnce(o: StatusOptions, io: Output): Promise<void> {
  const config = loadConfigFromDir(o.dir);
  if (o.source && !config.sources.has(o.source))
    throw new Error(`no source "${o.source}" (sources: ${[...config.sources.keys()].join(', ')})`);
  const { now, lanes, warm, tallies, reasons, controls, from, snapshot } = await readLanes(config, o.dir);
  const snaps = readSourceSnapshots(o.dir, Date.now());
  const waitingAll = sumWaiting(snaps.map((snap) => snap.waiting ?? []));
  const rows = statusRows(config, lanes, now, warm, tallies, reasons, waitingAll).filter((r) => keep(o, r));
  const sources: SourceRow[] = snaps
    .flatMap((snap) => snap.sources.map((s) => ({ ...s, pid: snap.pid })))
    .filter((s) => !o.source || s.source === o.source);
  const waiting = waitingAll.filter(
    (w) => (!o.provider || w.provider === o.provider) && (!o.source || w.source === o.source),
  );
  const warnings = notes(snapshot);
  if (o.json) {
    const waitingJson = waiting.map((w) => ({ ...w, oldestQueuedAt: new Date(w.oldestQueuedAt).toISOString() }));
    io.out(
      JSON.stringify({
        now,
        at: new Date(now).toISOString(),
        from,
        snapshot,
        notes: warnings,
        lanes: rows.map(jsonRow),
        sources,
        waiting: waitingJson,
        controls: controls.map(controlRow),
      }),
    );
    return;
  }
  io.out(`paceline status from ${from}: ${rows.length} lane${rows.length === 1 ? '' : 's'}`);
  for (const line of warnings) io.out(`note: ${line}`);
  for (const line of statusTable(rows)) io.out(line);
  for (const line of unbookedLines(waiting, now)) io.out(line);
  for (const line of sourceLines(sources, Date.now())) io.out(line);
  io.out(controls.length === 0 ? 'no operator controls in force' : `operator controls in force: ${controls.length}`);
  for (const c of controls) io.out(`  ${controlLine(c)}`);
}

export async function statusCommand(args: readonly string[], io: Output): Promise<number> {
  const o = parseArgs(args);
  if (typeof o === 'string') {
    io.err(`paceline status: ${o}\n${STATUS_USAGE}`);
    return 2;
  }
  for (let printed = 0; ;) {
    let failed = false;
    try {
      await printOnce(o, io);
    } catch (err) {
      io.err(`paceline status: ${(err as Error).message}`);
      failed = true;
    }
    printed++;
    if (o.watchS === undefined || (o.count !== undefined && printed >= o.count)) return failed ? 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, (o.watchS as number) * 1000));
  }
}
