/**
 * IP warm-up: a new source carries a growing daily volume per provider, as a
 * schedule allows, spread through the day. Pure: the schedule, the lane's
 * warm-up record and yesterday's counters in, today's cap and the next record out.
 *
 * Day numbers are days since the epoch in the configured time zone
 * (lib/core/day.ts); schedule days are 1-based (day 1 = the first day).
 */

import type { Rate } from './rate';

/** A named ramp: messages per day for day 1..N, per provider or by default. */
export interface Schedule {
  readonly name: string;
  /** Caps for day 1..N; after the last day the source is warm (no warm-up cap). */
  readonly days: readonly number[];
  readonly providers: ReadonlyMap<string, readonly number[]>;
  /** Optional per-hour cap for day 1..N (same indexing), or undefined. */
  readonly hourly?: readonly number[];
  readonly progression: 'calendar' | 'earned';
  /** earned: share of the day's cap a lane must use for the day to count. */
  readonly minUsage: number;
  /** earned: throttle replies per message above which a day is bad. */
  readonly maxThrottleRatio: number;
  /** earned: after this many bad days in a row, step back one day. */
  readonly stepBackAfter: number;
  /** Idle days after which a source warms again from `rewarmFromDay`. */
  readonly rewarmAfterDays: number;
  readonly rewarmFromDay: number;
}

/** Where a lane stands in its warm-up; kept in the store. */
export interface WarmRecord {
  /** Day number the warm-up (re)started. */
  start: number;
  /** earned: the schedule day in force (1-based). calendar: unused (derived from start). */
  step: number;
  /** Day number this record was last brought up to date. */
  evaluated: number;
  /** earned: bad days in a row. */
  badDays: number;
  /**
   * 1 while an operator keeps the lane on its schedule day (`paceline warmup
   * freeze`): days pass without moving it on, back or into a re-warm.
   */
  frozen?: 1;
}

/** Yesterday's counters of a lane (from its state), for earned progression. */
export interface DayStats {
  readonly day: number;
  readonly count: number;
  readonly throttles: number;
  /** Last day with any traffic on the lane (0 = never). */
  readonly lastActive: number;
}

export function ramp(schedule: Schedule, provider: string): readonly number[] {
  return schedule.providers.get(provider) ?? schedule.days;
}

/** The schedule day in force today (1-based). */
export function scheduleDay(schedule: Schedule, record: WarmRecord, today: number): number {
  return schedule.progression === 'calendar' ? today - record.start + 1 : record.step;
}

/** Today's cap for a lane, or undefined when the ramp is over (the source is warm). */
export function capFor(schedule: Schedule, provider: string, day: number): number | undefined {
  const r = ramp(schedule, provider);
  return day >= 1 && day <= r.length ? r[day - 1] : undefined;
}

/** A new record for a lane whose source started warming on `start`. */
export function startRecord(start: number, today: number): WarmRecord {
  return { start, step: Math.max(1, today - start + 1), evaluated: today, badDays: 0 };
}

/**
 * Brings a record up to `today`: re-warm after a long idle spell, then for
 * `earned` judge the days since the last evaluation (only yesterday's counters
 * are known; earlier unjudged days count as idle, i.e. neither good nor bad).
 * A frozen record stays on its day.
 */
export function evaluate(
  schedule: Schedule,
  provider: string,
  prior: WarmRecord,
  stats: DayStats,
  today: number,
): WarmRecord {
  if (prior.evaluated >= today) return prior;
  // frozen: the same schedule day today (a calendar start moves on with the days)
  if (prior.frozen) return { ...prior, start: prior.start + (today - prior.evaluated), evaluated: today };
  const r: WarmRecord = { ...prior, evaluated: today };
  if (stats.lastActive > 0 && today - stats.lastActive >= schedule.rewarmAfterDays) {
    return { start: today - schedule.rewarmFromDay + 1, step: schedule.rewarmFromDay, evaluated: today, badDays: 0 };
  }
  if (schedule.progression === 'calendar' || stats.day !== today - 1) return r;
  const cap = capFor(schedule, provider, r.step);
  if (cap === undefined) return r;
  const usedEnough = stats.count >= schedule.minUsage * cap;
  const clean = stats.count > 0 && stats.throttles / stats.count <= schedule.maxThrottleRatio;
  if (usedEnough && clean) return { ...r, step: r.step + 1, badDays: 0 };
  if (!clean && stats.count > 0) {
    const badDays = r.badDays + 1;
    if (badDays >= schedule.stepBackAfter) return { ...r, step: Math.max(1, r.step - 1), badDays: 0 };
    return { ...r, badDays };
  }
  return r;
}

/**
 * A day's cap spread over the active part of the day as a rate with a small
 * burst, so the volume flows through the day instead of leaving at midnight.
 * The burst is at least 2: a message that arrives after its slot does not push
 * every later slot back, so steady traffic uses the whole cap.
 */
export function spreadRate(perDay: number, activeMs: number, hourly?: number): Rate {
  const burst = Math.max(2, Math.min(10, Math.floor(perDay / 100)));
  const spread: Rate = { count: perDay, periodMs: activeMs, burst };
  if (hourly === undefined) return spread;
  const hourlyRate: Rate = { count: hourly, periodMs: 3_600_000, burst: Math.min(burst, hourly) };
  return hourlyRate.periodMs / hourlyRate.count > spread.periodMs / spread.count ? hourlyRate : spread;
}
