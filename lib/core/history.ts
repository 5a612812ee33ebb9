/**
 * Bounded per-lane history for the dashboard, written with the outcome
 * counters (lib/core/tally.ts) in the same store step:
 *
 *   minutes  one bucket per epoch minute, kept HISTORY_MINUTES (48 h): the
 *            outcome names counted in it, reaction marks (`mark:<effect>`)
 *            and the lane's pace factor after the minute's last outcome
 *   days     one bucket per day number (configured zone), kept `keepDays`
 *            (the longest warm-up schedule plus a day): the outcome names
 *
 * Both stores keep the same buckets and drop the same old ones at each write
 * (lib/store/memory-history.ts, lib/store/lua/tally-3.lua); a read drops the
 * minutes older than 48 h as well. Pure: the clock comes in as an argument.
 */

import type { Schedule } from './warmup';

/** Width of a minute bucket (ms). */
export const MINUTE_MS = 60_000;
/** Minute buckets kept: 48 hours. */
export const HISTORY_MINUTES = 48 * 60;
/** Fewest day buckets kept (today and yesterday), whatever the schedules. */
export const HISTORY_MIN_DAYS = 2;
/** Names counted in minute buckets only: a reaction to a reply (`mark:slowed`, ...). */
export const MARK_PREFIX = 'mark:';

/** Counts by name. */
export type Counts = Record<string, number>;

/** One minute of a lane. */
export interface HistoryMinute {
  /** Epoch minute (epoch ms / 60 000). */
  readonly minute: number;
  readonly counts: Counts;
  /** The lane's pace factor after the minute's last outcome (1 = configured pace). */
  readonly pace: number;
}

/** One day of a lane. */
export interface HistoryDay {
  /** Day number in the configured zone (lib/core/day.ts). */
  readonly day: number;
  readonly counts: Counts;
}

/** What a store holds of a lane's history, oldest bucket first. */
export interface LaneHistory {
  readonly minutes: readonly HistoryMinute[];
  readonly days: readonly HistoryDay[];
}

/** The epoch minute of an instant. */
export const minuteOf = (now: number): number => Math.floor(now / MINUTE_MS);

/** The oldest minute a write or read at `now` keeps. */
export const oldestMinute = (now: number): number => minuteOf(now) - HISTORY_MINUTES + 1;

/** The oldest day kept when today is `today`. */
export const oldestDay = (today: number, keepDays: number): number => today - Math.max(HISTORY_MIN_DAYS, keepDays) + 1;

/** How long a lane's history outlives its last write (ms): 48 h, or `keepDays` days when longer. */
export const historyTtlMs = (keepDays: number): number => Math.max(HISTORY_MIN_DAYS, keepDays) * 86_400_000;

/** Day buckets to keep for some schedules: the longest ramp (any provider's) plus one day. */
export function historyDays(schedules: Iterable<Schedule>): number {
  let longest = 0;
  for (const s of schedules) {
    longest = Math.max(longest, s.days.length);
    for (const r of s.providers.values()) longest = Math.max(longest, r.length);
  }
  return Math.max(HISTORY_MIN_DAYS, longest + 1);
}

/** Adds 1 to each name of `names` (marks included) to a minute's counts; returns new counts. */
export function addCounts(counts: Counts | undefined, names: readonly string[]): Counts {
  const out: Counts = { ...counts };
  for (const name of names) out[name] = (out[name] ?? 0) + 1;
  return out;
}

/** A copy of counts with the names in order (both stores read the same object). */
export function sortedCounts(counts: Counts): Counts {
  const out: Counts = {};
  for (const name of Object.keys(counts).sort()) out[name] = counts[name] as number;
  return out;
}

/** The names a day bucket counts: the outcome names without the marks. */
export const dayNames = (names: readonly string[]): string[] => names.filter((n) => !n.startsWith(MARK_PREFIX));

/** A reaction's mark, or undefined for effects that change nothing worth marking. */
export function markOf(effect: string | undefined, incident = false): string[] {
  const out = effect && effect !== 'counted' ? [`${MARK_PREFIX}${effect}`] : [];
  if (incident) out.push(`${MARK_PREFIX}incident`);
  return out;
}
