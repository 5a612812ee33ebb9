/**
 * `paceline status [--config HARAKA_DIR | HARAKA_DIR] [filters] [--json] [--watch [SECONDS]]`:
 * every lane with state, then a section per provider (incident or operator
 * pause, lanes by state, throttles per 100 attempts) and per source (up or
 * down, warm-up day, cap and use), read from the shared store (Redis) or,
 * with the memory store, from the snapshot the running Haraka writes every
 * 10 s (lib/cli/status-read.ts).
 */

import { loadConfigFromDir } from '../config/load';
import type { Config } from '../config/types';
import { SNAPSHOT_EVERY_MS } from '../store/open';
import { jsonRow, sourceLines, statusRows, statusTable, unbookedLines, type StatusRow } from '../engine/status-rows';
import {
  providerKinds,
  providerNames,
  providerRows,
  providerTable,
  type ProviderRow,
} from '../engine/status-providers';
import { sourceRows, sourceTable, type SourceStatusRow } from '../engine/status-sources';
import { controlLine, controlRow } from '../engine/status-controls';
import { sumWaiting, type WaitingLane } from '../core/waiting';
import { parseStateKind, type StateKind } from '../engine/status-state';
import { harakaDir } from './args';
import type { Output } from './check';
import { readStatus, type SnapshotInfo, type StatusData } from './status-read';

export const STATUS_USAGE = `usage: paceline status [--config HARAKA_DIR | HARAKA_DIR] [--json] [--provider P] [--source S] [--state KIND]
                       [--watch [SECONDS] [--count N]]`;

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

/** Every section of one print, filtered as asked. */
interface Sections {
  lanes: StatusRow[];
  providers: ProviderRow[];
  sources: SourceStatusRow[];
  waiting: WaitingLane[];
}

/**
 * The sections, filtered: lanes by every filter; providers by --provider,
 * their counts from the lanes of --source, kept under --state K when paused
 * (operator or incident) for K = paused or when one of their lanes is in K;
 * sources likewise by --source, their warm-up lanes those of --provider.
 */
function sections(o: StatusOptions, config: Config, d: StatusData): Sections {
  const waitingAll = sumWaiting(d.waiting);
  const all = statusRows(config, d.lanes, d.now, d.warm, d.tallies, d.reasons, waitingAll);
  const bySource = all.filter((r) => !o.source || r.source === o.source);
  const byProvider = all.filter((r) => !o.provider || r.provider === o.provider);
  const names = providerNames(bySource, d.providers, d.controls).filter((p) => !o.provider || p === o.provider);
  const providers = providerRows(
    names,
    bySource,
    d.providers,
    d.controls,
    waitingAll,
    d.now,
    config.settings.adapt.incident,
  );
  const sourceNames = [...config.sources.keys()]
    .sort()
    .filter((s) => (!o.source || s === o.source) && (!o.provider || byProvider.some((r) => r.source === s)));
  const sources = sourceRows(config, sourceNames, byProvider, d.troubles, d.controls, d.now);
  const laneKinds = (rows: StatusRow[], source: string) =>
    rows.filter((r) => r.source === source).flatMap((r) => r.detail.kinds);
  return {
    lanes: all.filter((r) => keep(o, r)),
    providers: providers.filter((p) => !o.state || providerKinds(p).includes(o.state)),
    sources: sources.filter(
      (s) =>
        !o.state || laneKinds(byProvider, s.source).includes(o.state) || (o.state === 'paused' && s.pause !== null),
    ),
    waiting: waitingAll.filter(
      (w) => (!o.provider || w.provider === o.provider) && (!o.source || w.source === o.source),
    ),
  };
}

function printJson(io: Output, d: StatusData, s: Sections): void {
  io.out(
    JSON.stringify({
      now: d.now,
      at: new Date(d.now).toISOString(),
      from: d.from,
      snapshot: d.snapshot,
      notes: notes(d.snapshot),
      lanes: s.lanes.map(jsonRow),
      providers: s.providers,
      sources: s.sources,
      waiting: s.waiting.map((w) => ({ ...w, oldestQueuedAt: new Date(w.oldestQueuedAt).toISOString() })),
      processes: d.processes,
      controls: d.controls.map(controlRow),
    }),
  );
}

/** One print of the status; throws on unreadable config or store. */
async function printOnce(o: StatusOptions, io: Output): Promise<void> {
  const config = loadConfigFromDir(o.dir);
  if (o.source && !config.sources.has(o.source))
    throw new Error(`no source "${o.source}" (sources: ${[...config.sources.keys()].join(', ')})`);
  const d = await readStatus(config, o.dir);
  const s = sections(o, config, d);
  if (o.json) return printJson(io, d, s);
  const { lanes } = s;
  io.out(`paceline status from ${d.from}: ${lanes.length} lane${lanes.length === 1 ? '' : 's'}`);
  for (const line of notes(d.snapshot)) io.out(`note: ${line}`);
  for (const line of statusTable(lanes)) io.out(line);
  for (const line of unbookedLines(s.waiting, d.now)) io.out(line);
  io.out('');
  for (const line of providerTable(s.providers)) io.out(line);
  io.out('');
  for (const line of sourceTable(s.sources, Date.now())) io.out(line);
  const troubles = d.troubles.filter((t) => !o.source || t.source === o.source);
  for (const line of sourceLines(troubles, Date.now())) io.out(line);
  const { controls } = d;
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
