/**
 * What `paceline status` shows per lane: its limits, what it sent today, what
 * is in flight, when its next slot is free and what state adaptation left it
 * in. Pure: lanes and a clock in, rows out.
 */

import type { LaneLimits, LaneState } from '../core/lane-state';
import { concurrencyLimit } from '../core/throttle';
import { earliestAt, normalize } from '../core/lane';
import { formatRate, perMinute } from '../core/rate';
import type { Config } from '../config/types';
import { laneKey, type LaneRef } from '../store/types';
import { dayNumber, zoneOffsetMs } from '../core/day';
import { scheduleDay, type WarmRecord } from '../core/warmup';
import type { SourceTrouble } from '../core/source-health';
import { plainLaneView, scheduleOf, warmLaneView, type LaneView } from './warmup-limits';
import { stateDetail, type ReasonRecord, type StateDetail } from './status-state';
import { countsCell, outcomeCounts, type OutcomeCounts } from './status-counts';
import type { TallyFields } from '../core/tally';
import type { WaitingLane } from '../core/waiting';
import { alignTable } from './status-table';

export interface StatusRow {
  source: string;
  provider: string;
  rate: string;
  /** Configured concurrency (pool and source layers included); null = unlimited. */
  concurrency: number | null;
  /** Concurrency in force now (adaptation may lower it); null = unlimited. */
  concurrencyNow: number | null;
  /** Messages per day, a warming source's cap for today included; null = unlimited. */
  perDay: number | null;
  sentLastMinute: number;
  sentToday: number;
  inFlight: number;
  /** Seconds until the next free slot (0 = free now), a warming source's active hours included. */
  nextFreeS: number;
  /** When the next slot is free, ISO (now when free now). */
  nextFreeAt: string;
  /** ok, slowed (pace factor), paused, capped, blocked: for people. */
  state: string;
  /** The same state as machine fields (see status-state.ts). */
  detail: StateDetail;
  factor: number;
  /** The pace factor learnt from what the provider accepted (see [adapt] accepted_share); null when none. */
  knownGood: number | null;
  /** What the lane's attempts came to today (in the configured zone) and in the last hour (55 to 60 min). */
  today: OutcomeCounts;
  lastHour: OutcomeCounts;
  /** Messages paceline told to wait with a slot booked on this lane (summed over the processes), and the oldest one's queue time. */
  waiting: number;
  oldestWaitingQueuedAt: string | null;
  oldestWaitingAgeS: number | null;
  /** A warming source's position: schedule, day, today's cap, progression. */
  warmup?: { schedule: string; progression: string; day: number; cap: number | null; frozen?: true };
}

/** Warm-up records by lane key (`source|provider`). */
export type WarmRecords = ReadonlyMap<string, WarmRecord>;

/** The lane's limits as the engine sees them: pool layers folded into the source, warm-up cap and spread included. */
function viewOf(config: Config, lane: LaneRef, record: WarmRecord | undefined, now: number): LaneView {
  const source = config.sources.get(lane.source);
  const schedule = scheduleOf(config, source);
  if (!source || !schedule || !record) return plainLaneView(config, lane.source, lane.provider, now);
  return warmLaneView(config, source, schedule, lane.provider, now, record);
}

function stateOf(s: LaneState, limits: LaneLimits, now: number): string {
  if (s.blockedAt)
    return `blocked since ${new Date(s.blockedAt).toISOString()}, next trial ${new Date(s.trialAt).toISOString()}`;
  const parts: string[] = [];
  if (s.pauseUntil > now) parts.push(`paused ${Math.ceil((s.pauseUntil - now) / 1000)}s`);
  if (s.connCap > 0) parts.push(`connections capped at ${s.connCap}`);
  if (s.factor < 1) parts.push(`slowed to ${Math.round(s.factor * 100)}%`);
  if (s.known > 0)
    parts.push(
      `known-good pace ${Math.round(s.known * 100)}%${limits.rate ? ` (${Math.round(s.known * perMinute(limits.rate))}/min)` : ''}`,
    );
  if (limits.perDay !== undefined && s.dayCount >= limits.perDay) parts.push('daily volume used');
  return parts.join(', ') || 'ok';
}

/** The state in words, the reason appended when something holds the lane back, and as machine fields. */
function stateCells(
  s: LaneState,
  limits: LaneLimits,
  now: number,
  why: ReasonRecord | null,
): { state: string; detail: StateDetail } {
  const detail = stateDetail(s, limits, now, why);
  const text = stateOf(s, limits, now);
  return { state: detail.reason ? `${text} (${detail.reason})` : text, detail };
}

function waitingOf(
  w: WaitingLane | undefined,
  now: number,
): Pick<StatusRow, 'waiting' | 'oldestWaitingQueuedAt' | 'oldestWaitingAgeS'> {
  if (!w) return { waiting: 0, oldestWaitingQueuedAt: null, oldestWaitingAgeS: null };
  return {
    waiting: w.count,
    oldestWaitingQueuedAt: new Date(w.oldestQueuedAt).toISOString(),
    oldestWaitingAgeS: Math.max(0, Math.round((now - w.oldestQueuedAt) / 1000)),
  };
}

/** Messages told to wait before a slot was booked: only their provider is known. One line per provider. */
export function unbookedLines(waiting: readonly WaitingLane[], now: number): string[] {
  return waiting
    .filter((w) => w.source === null)
    .map(
      (w) =>
        `waiting for ${w.provider} without a booked slot: ${w.count} (oldest queued ${Math.max(0, Math.round((now - w.oldestQueuedAt) / 1000))}s ago)`,
    );
}

const orNull = (n: number | undefined): number | null => (n !== undefined && Number.isFinite(n) ? n : null);

/** Rows for every lane with state, sorted by source then provider. */
export function statusRows(
  config: Config,
  lanes: ReadonlyArray<{ lane: LaneRef; state: LaneState }>,
  now: number,
  warm: WarmRecords = new Map(),
  tallies: ReadonlyMap<string, TallyFields> = new Map(),
  reasons: ReadonlyMap<string, ReasonRecord> = new Map(),
  waiting: readonly WaitingLane[] = [],
): StatusRow[] {
  const rows = lanes.map(({ lane, state }): StatusRow => {
    const key = laneKey(lane);
    const record = warm.get(key);
    const counts = outcomeCounts(tallies.get(key) ?? {}, now, zoneOffsetMs(config.settings.timezone, now));
    const view = viewOf(config, lane, record, now);
    const { limits } = view;
    const s = normalize(state, limits, now, true);
    const schedule = scheduleOf(config, config.sources.get(lane.source));
    const freeAt = Math.max(earliestAt(state, limits, now), view.opensAt ?? 0);
    const frozen = record?.frozen ? { frozen: true as const } : {};
    return {
      source: lane.source,
      provider: lane.provider,
      rate: s.rateKey || (limits.rate ? formatRate(limits.rate) : 'unlimited'),
      concurrency: orNull(limits.concurrency),
      concurrencyNow: orNull(concurrencyLimit(s, limits)),
      perDay: orNull(limits.perDay),
      sentLastMinute: s.minute === Math.floor(now / 60_000) ? s.minuteCount : 0,
      sentToday: s.dayCount,
      inFlight: s.leases.length,
      nextFreeS: Math.max(0, Math.ceil((freeAt - now) / 1000)),
      nextFreeAt: new Date(Math.max(freeAt, now)).toISOString(),
      ...stateCells(s, limits, now, reasons.get(key) ?? null),
      factor: s.factor,
      knownGood: s.known > 0 ? s.known : null,
      today: counts.today,
      lastHour: counts.lastHour,
      ...waitingOf(
        waiting.find((w) => w.source === lane.source && w.provider === lane.provider),
        now,
      ),
      ...(schedule && view.warm
        ? {
            warmup: {
              schedule: schedule.name,
              progression: schedule.progression,
              day: view.warm.day,
              cap: view.warm.cap,
              ...frozen,
            },
          }
        : {}),
      ...(schedule && record && !view.warm
        ? {
            warmup: {
              schedule: schedule.name,
              progression: schedule.progression,
              day: scheduleDay(schedule, record, dayNumber(now, zoneOffsetMs(config.settings.timezone, now))),
              cap: null,
              ...frozen,
            },
          }
        : {}),
    };
  });
  return rows.sort((a, b) => a.source.localeCompare(b.source) || a.provider.localeCompare(b.provider));
}

const concurrencyCell = (r: StatusRow): string =>
  r.concurrencyNow === r.concurrency
    ? String(r.concurrency ?? '-')
    : `${r.concurrencyNow ?? '-'} of ${r.concurrency ?? '-'}`;

/** The rows as an aligned text table. */
export function statusTable(rows: readonly StatusRow[]): string[] {
  const head = [
    'source',
    'provider',
    'rate',
    'conc',
    'per_day',
    'last min',
    'today',
    'in flight',
    'next free',
    'warm-up',
    'today d/def/b',
    'hour d/def/b',
    'thr/100 h',
    'waiting',
    'state',
  ];
  const warm = (r: StatusRow) =>
    r.warmup
      ? `${r.warmup.schedule} day ${r.warmup.day} (${r.warmup.progression}${r.warmup.frozen ? ', frozen' : ''}), cap ${r.warmup.cap ?? 'warm'}, used ${r.sentToday}`
      : '-';
  const cells = rows.map((r) => [
    r.source,
    r.provider,
    r.rate,
    concurrencyCell(r),
    String(r.perDay ?? '-'),
    String(r.sentLastMinute),
    String(r.sentToday),
    String(r.inFlight),
    r.nextFreeS ? `${r.nextFreeS}s` : 'now',
    warm(r),
    countsCell(r.today),
    countsCell(r.lastHour),
    String(r.lastHour.throttlesPer100 ?? '-'),
    r.waiting ? `${r.waiting} (oldest ${r.oldestWaitingAgeS}s)` : '0',
    r.state,
  ]);
  return alignTable(head, cells);
}

/** A row as `status --json` prints it: `state` the machine fields, `stateText` the words. */
export function jsonRow(
  row: StatusRow,
): Omit<StatusRow, 'state' | 'detail'> & { state: StateDetail; stateText: string } {
  const { state, detail, ...rest } = row;
  return { ...rest, state: detail, stateText: state };
}

/** A source with failures in a row in one Haraka process (per process: see lib/core/source-health.ts). */
export type SourceRow = SourceTrouble & { readonly pid: number };

/** One line per source with failures: down until when, or being retried, and why. */
export function sourceLines(rows: readonly SourceRow[], now: number): string[] {
  if (rows.length === 0) return ['sources: every source reaches its MX hosts'];
  return rows.map((r) => {
    const state =
      r.state === 'down'
        ? `down until ${new Date(r.until).toISOString()} (${Math.ceil((r.until - now) / 1000)}s)`
        : r.state === 'retrying'
          ? 'retrying after a down mark'
          : 'failing';
    return `source ${r.source}: ${state}, ${r.failures} attempt${r.failures === 1 ? '' : 's'} in a row reached no MX host (${r.reason}) [pid ${r.pid}]`;
  });
}
