/**
 * What `paceline status` shows per source: its address and pools, whether it
 * can send (up, or down with the reason and since when, from every process's
 * source health, lib/core/source-health.ts), its warm-up per provider
 * (schedule, day, today's cap, used today, frozen) and an operator's pause.
 * Pure: config, lane rows, the processes' troubles, controls and a clock in.
 */

import type { Config } from '../config/types';
import type { Control } from '../core/control';
import type { SourceTrouble } from '../core/source-health';
import { controlRow, pauseCell, pauseOf, type ControlRow } from './status-controls';
import type { StatusRow } from './status-rows';
import { scheduleOf } from './warmup-limits';
import { alignTable } from './status-table';

/** A source's troubles as one process saw them (source health is kept per process). */
export type ProcessTrouble = SourceTrouble & { readonly pid: number; readonly node?: string };

/** One lane of a warming source: where it stands today. */
export interface WarmLaneRow {
  provider: string;
  /** Schedule day (1-based). */
  day: number;
  /** Today's cap; null once the schedule has ended for this provider (warm). */
  cap: number | null;
  /** Slots the lane gave today (`sentToday`). */
  used: number;
  /** An operator keeps it on this day (`paceline warmup freeze`). */
  frozen: boolean;
}

export interface SourceStatusRow {
  source: string;
  /** Local address it binds; null for the implicit source (the default route). */
  address: string | null;
  helo: string | null;
  pools: string[];
  /** up: no process has failures on it; else the worst of the processes' states (down, retrying, failing). */
  state: 'up' | 'down' | 'retrying' | 'failing';
  /** The last failure in words, e.g. `cannot bind 192.0.2.1 (EADDRNOTAVAIL)`; null when up. */
  reason: string | null;
  /** First failure of the row (ISO), and the end of the down mark (ISO; null when not down). */
  since: string | null;
  until: string | null;
  /** Attempts in a row that reached no MX host (the most any process counts). */
  failures: number;
  /** Each process's view, when it has failures: node, pid, state, failures, reason. */
  processes: Array<{
    node: string | null;
    pid: number;
    state: SourceTrouble['state'];
    failures: number;
    reason: string;
  }>;
  /** Its warm-up, when it warms: the schedule and each lane's day, cap and use. */
  warmup: { schedule: string; progression: string; lanes: WarmLaneRow[] } | null;
  /** The operator's pause of the whole source, or null. */
  pause: ControlRow | null;
  /** Its lanes with state, and what they sent today. */
  lanes: number;
  sentToday: number;
}

const SEVERITY = ['down', 'retrying', 'failing'] as const;
const iso = (ms: number): string | null => (ms > 0 ? new Date(ms).toISOString() : null);

function health(
  troubles: readonly ProcessTrouble[],
): Pick<SourceStatusRow, 'state' | 'reason' | 'since' | 'until' | 'failures' | 'processes'> {
  const worst = SEVERITY.find((s) => troubles.some((t) => t.state === s));
  if (!worst) return { state: 'up', reason: null, since: null, until: null, failures: 0, processes: [] };
  const those = troubles.filter((t) => t.state === worst);
  const first = those.reduce((a, b) => (b.since < a.since ? b : a));
  return {
    state: worst,
    reason: first.reason,
    since: iso(first.since),
    until: worst === 'down' ? iso(Math.max(...those.map((t) => t.until))) : null,
    failures: Math.max(...troubles.map((t) => t.failures)),
    processes: troubles.map((t) => ({
      node: t.node ?? null,
      pid: t.pid,
      state: t.state,
      failures: t.failures,
      reason: t.reason,
    })),
  };
}

function warmupOf(config: Config, source: string, lanes: readonly StatusRow[]): SourceStatusRow['warmup'] {
  const schedule = scheduleOf(config, config.sources.get(source));
  if (!schedule) return null;
  const warm = lanes.flatMap((r): WarmLaneRow[] =>
    r.warmup
      ? [
          {
            provider: r.provider,
            day: r.warmup.day,
            cap: r.warmup.cap,
            used: r.sentToday,
            frozen: r.warmup.frozen === true,
          },
        ]
      : [],
  );
  return { schedule: schedule.name, progression: schedule.progression, lanes: warm };
}

/** One row per source of `names`, from its lanes' rows (already filtered by provider, if at all). */
export function sourceRows(
  config: Config,
  names: readonly string[],
  rows: readonly StatusRow[],
  troubles: readonly ProcessTrouble[],
  controls: readonly Control[],
  now: number,
): SourceStatusRow[] {
  return names.map((name) => {
    const s = config.sources.get(name);
    const lanes = rows.filter((r) => r.source === name);
    const pause = pauseOf(controls, 'source', name, now);
    return {
      source: name,
      address: s?.address ?? null,
      helo: s?.helo ?? null,
      pools: [...config.pools.values()].filter((p) => p.sources.includes(name)).map((p) => p.name),
      ...health(troubles.filter((t) => t.source === name)),
      warmup: warmupOf(config, name, lanes),
      pause: pause ? controlRow(pause) : null,
      lanes: lanes.length,
      sentToday: lanes.reduce((n, r) => n + r.sentToday, 0),
    };
  });
}

/** The source rows as an aligned table. */
export function sourceTable(rows: readonly SourceStatusRow[], now: number): string[] {
  if (rows.length === 0) return [];
  const up = (r: SourceStatusRow) =>
    r.state === 'up'
      ? 'up'
      : r.state === 'down'
        ? `down since ${r.since} until ${r.until} (${Math.max(0, Math.ceil((Date.parse(r.until ?? '') - now) / 1000))}s): ${r.reason}`
        : `${r.state} since ${r.since}: ${r.reason}`;
  const warm = (r: SourceStatusRow) =>
    r.warmup
      ? `${r.warmup.schedule} (${r.warmup.progression})${r.warmup.lanes.map((l) => ` ${l.provider} day ${l.day} cap ${l.cap ?? 'warm'} used ${l.used}${l.frozen ? ' frozen' : ''}`).join(',')}`
      : '-';
  return alignTable(
    ['source', 'address', 'pools', 'today', 'warm-up', 'state'],
    rows.map((r) => [
      r.source,
      r.address ?? '(default route)',
      r.pools.join(',') || '-',
      String(r.sentToday),
      warm(r),
      [up(r), r.pause ? pauseCell(r.pause) : ''].filter(Boolean).join('; '),
    ]),
  );
}
