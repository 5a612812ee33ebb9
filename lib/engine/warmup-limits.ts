/**
 * The limits a lane has today: its configured limits, narrowed for a warming
 * source by its schedule (the day's cap, spread through the day), with day
 * boundaries in the configured time zone. Warm-up records live in the store;
 * each is brought up to date once a day, and cached here for WARM_REFRESH_MS
 * (so an operator's `paceline warmup` change reaches every node within it).
 */

import { dayNumber, zoneOffsetMs } from '../core/day';
import { intervalMs } from '../core/rate';
import type { LaneLimits, LaneState } from '../core/lane-state';
import { capFor, evaluate, scheduleDay, spreadRate, startRecord, type DayStats, type WarmRecord } from '../core/warmup';
import { laneLimits } from '../config/lane-limits';
import type { Config, Source } from '../config/types';
import type { ScheduleConfig } from '../config/warmup';
import { laneKey, type LaneRef, type PacingStore } from '../store/types';

export interface LaneView {
  readonly limits: LaneLimits;
  /** Warm-up position, when the source is warming. */
  readonly warm?: { readonly schedule: string; readonly day: number; readonly cap: number };
  /** Outside the schedule's active hours: the lane may send from this time (epoch ms). */
  readonly opensAt?: number;
}

const HOUR_MS = 3_600_000;

/** A cached warm-up record is read again from the store after this long, ms. */
export const WARM_REFRESH_MS = 1000;

/** The active window around `now` in local minutes → [start, end) epoch ms of today's window. */
function activeWindow(active: readonly [number, number], now: number, offsetMs: number): { from: number; to: number } {
  const localMidnight = dayNumber(now, offsetMs) * 86_400_000 - offsetMs;
  return { from: localMidnight + active[0] * 60_000, to: localMidnight + active[1] * 60_000 };
}

/** The lane's last day with traffic before today, from an un-normalised state. */
function yesterday(state: LaneState | undefined, today: number): DayStats {
  if (!state) return { day: 0, count: 0, throttles: 0, lastActive: 0 };
  const current = state.day !== today && state.dayCount > 0;
  return {
    day: current ? state.day : state.prevDay,
    count: current ? state.dayCount : state.prevDayCount,
    throttles: current ? state.dayThrottles : state.prevDayThrottles,
    lastActive: state.dayCount > 0 ? state.day : state.prevDay,
  };
}

/** The view of a lane whose source is not warming: its configured limits, days in the configured zone. */
export function plainLaneView(config: Config, source: string, provider: string, now: number): LaneView {
  const offset = zoneOffsetMs(config.settings.timezone, now);
  const base = laneLimits(config, source, provider);
  return { limits: offset === 0 ? base : { ...base, dayOffsetMs: offset } };
}

/** The schedule a source warms up on, or undefined when it is warm. */
export function scheduleOf(config: Config, source: Source | undefined): ScheduleConfig | undefined {
  return source?.warmup ? config.schedules.get(source.warmup.schedule) : undefined;
}

/**
 * The view of a warming source's lane, given its warm-up record: the day's
 * cap, the rate that spreads it over the active hours, and when the window
 * opens. Pure, so the engine and `paceline status` show the same limits.
 */
export function warmLaneView(
  config: Config,
  source: Source,
  schedule: ScheduleConfig,
  provider: string,
  now: number,
  record: WarmRecord,
): LaneView {
  const offset = zoneOffsetMs(config.settings.timezone, now);
  const { limits } = plainLaneView(config, source.name, provider, now);
  const day = scheduleDay(schedule, record, dayNumber(now, offset));
  const cap = capFor(schedule, provider, day);
  if (cap === undefined) return { limits };
  return narrow(limits, schedule, { schedule: schedule.name, day, cap }, now, offset);
}

function narrow(
  limits: LaneLimits,
  schedule: ScheduleConfig,
  warm: NonNullable<LaneView['warm']>,
  now: number,
  offset: number,
): LaneView {
  const activeMs = schedule.activeMinutes
    ? (schedule.activeMinutes[1] - schedule.activeMinutes[0]) * 60_000
    : 24 * HOUR_MS;
  const hourly = schedule.hourly?.[warm.day - 1];
  const spread = spreadRate(warm.cap, activeMs, hourly);
  const rate = limits.rate && intervalMs(limits.rate) >= intervalMs(spread) ? limits.rate : spread;
  const narrowed: LaneLimits = { ...limits, rate, perDay: Math.min(limits.perDay ?? Infinity, warm.cap) };
  if (!schedule.activeMinutes) return { limits: narrowed, warm };
  const w = activeWindow(schedule.activeMinutes, now, offset);
  if (now >= w.from && now < w.to) return { limits: narrowed, warm };
  return { limits: narrowed, warm, opensAt: now < w.from ? w.from : w.from + 86_400_000 };
}

export class WarmupLimits {
  private readonly cache = new Map<string, { day: number; record: WarmRecord; readAt: number }>();

  constructor(private readonly store: PacingStore) {}

  /** Today's view of a lane; `state` (from a peek) gives yesterday's counters for earned progression. */
  async view(config: Config, source: Source, provider: string, now: number, state?: LaneState): Promise<LaneView> {
    return this.warmView(config, source, provider, now, state) ?? plainLaneView(config, source.name, provider, now);
  }

  /** The view of a warming source's lane, or undefined when the source is warm. */
  warmView(
    config: Config,
    source: Source,
    provider: string,
    now: number,
    state?: LaneState,
  ): Promise<LaneView> | undefined {
    const schedule = scheduleOf(config, source);
    if (!schedule || !source.warmup) return undefined;
    return this.warming(config, source, schedule, provider, now, state);
  }

  private async warming(
    config: Config,
    source: Source,
    schedule: ScheduleConfig,
    provider: string,
    now: number,
    state?: LaneState,
  ): Promise<LaneView> {
    const today = dayNumber(now, zoneOffsetMs(config.settings.timezone, now));
    const record = await this.record(
      { source: source.name, provider },
      schedule,
      source.warmup?.start,
      today,
      now,
      state,
    );
    return warmLaneView(config, source, schedule, provider, now, record);
  }

  /** The lane's record, brought up to today (evaluated once a day; read again every WARM_REFRESH_MS). */
  private async record(
    lane: LaneRef,
    schedule: ScheduleConfig,
    start: number | undefined,
    today: number,
    now: number,
    state?: LaneState,
  ): Promise<WarmRecord> {
    const key = laneKey(lane);
    const hit = this.cache.get(key);
    if (hit && hit.day === today && now - hit.readAt < WARM_REFRESH_MS) return hit.record;
    const stored = await this.store.warmRecord(lane);
    const prior = stored ?? startRecord(start ?? (await this.store.sourceStart(lane.source, today)), today);
    const next = evaluate(schedule, lane.provider, prior, yesterday(state, today), today);
    const record = !stored || next !== prior ? await this.store.saveWarmRecord(lane, next) : next;
    if (this.cache.size > 100_000) this.cache.clear();
    this.cache.set(key, { day: today, record, readAt: now });
    return record;
  }

  /** Forget cached records (a reload may change schedules or starts). */
  reset(): void {
    this.cache.clear();
  }
}
