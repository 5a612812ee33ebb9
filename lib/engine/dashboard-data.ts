/**
 * What the dashboard draws, from what `paceline status` reads plus the lanes'
 * history (lib/core/history.ts): the lanes table (the status rows, as
 * `status --json` prints them), per warming source the ramp planned vs sent
 * per day and provider, per lane its pace over time with throttle replies
 * and reaction marks, per provider the replies by category over time. Pure:
 * the data and a clock in; times out are epoch seconds (uPlot's x axis).
 */

import type { Config } from '../config/types';
import type { ScheduleConfig } from '../config/warmup';
import { DAY_MS, dayNumber, zoneOffsetMs } from '../core/day';
import { historyDays, MARK_PREFIX, MINUTE_MS, oldestDay, type LaneHistory } from '../core/history';
import type { LaneState } from '../core/lane-state';
import type { TallyFields } from '../core/tally';
import type { WaitingLane } from '../core/waiting';
import { capFor, ramp, type WarmRecord } from '../core/warmup';
import { laneKey, type LaneRef } from '../store/types';
import { jsonRow, statusRows } from './status-rows';
import type { ReasonRecord } from './status-state';
import { scheduleOf } from './warmup-limits';

/** What the dashboard is built from (the same reads as `paceline status`, plus the histories by lane key). */
export interface DashboardInput {
  readonly lanes: ReadonlyArray<{ lane: LaneRef; state: LaneState }>;
  readonly warm: ReadonlyMap<string, WarmRecord>;
  readonly tallies: ReadonlyMap<string, TallyFields>;
  readonly reasons: ReadonlyMap<string, ReasonRecord>;
  readonly waiting: readonly WaitingLane[];
  readonly histories: ReadonlyMap<string, LaneHistory>;
}

/** A warming source's ramp: per day (x = day start, epoch s), per provider the planned cap and what was sent. */
export interface RampChart {
  readonly source: string;
  readonly schedule: string;
  readonly t: number[];
  /** Dates of the days (YYYY-MM-DD, configured zone). */
  readonly dates: string[];
  readonly providers: Array<{ provider: string; planned: Array<number | null>; sent: number[] }>;
}

/** A lane's minutes: pace factor, attempts and throttle replies, and the reactions marked. */
export interface PaceChart {
  readonly source: string;
  readonly provider: string;
  readonly t: number[];
  readonly pace: number[];
  readonly sent: number[];
  readonly throttles: number[];
  readonly marks: Array<{ t: number; effects: string[] }>;
}

/** A provider's replies per minute by category (`accepted`, `bounced`, or the deferral's category). */
export interface ReplyChart {
  readonly provider: string;
  readonly t: number[];
  readonly categories: string[];
  /** One row per category, aligned with `t`. */
  readonly counts: number[][];
}

export interface DashboardData {
  readonly now: number;
  readonly at: string;
  readonly lanes: Array<ReturnType<typeof jsonRow>>;
  readonly ramps: RampChart[];
  readonly paces: PaceChart[];
  readonly replies: ReplyChart[];
}

const EMPTY: LaneHistory = { minutes: [], days: [] };

/** Everything the page shows. */
export function dashboardData(config: Config, input: DashboardInput, now: number): DashboardData {
  const rows = statusRows(config, input.lanes, now, input.warm, input.tallies, input.reasons, input.waiting);
  const refs = rows.map((r) => ({ source: r.source, provider: r.provider }));
  const history = (l: LaneRef) => input.histories.get(laneKey(l)) ?? EMPTY;
  return {
    now,
    at: new Date(now).toISOString(),
    lanes: rows.map(jsonRow),
    ramps: rampCharts(config, refs, input.warm, history, now),
    paces: refs.map((l) => paceChart(l, history(l))),
    replies: replyCharts(refs, history),
  };
}

function paceChart(lane: LaneRef, h: LaneHistory): PaceChart {
  const t = h.minutes.map((m) => (m.minute * MINUTE_MS) / 1000);
  const marks = h.minutes
    .map((m, i) => ({
      t: t[i] as number,
      effects: Object.keys(m.counts)
        .filter((n) => n.startsWith(MARK_PREFIX))
        .map((n) => n.slice(MARK_PREFIX.length)),
    }))
    .filter((m) => m.effects.length > 0);
  return {
    ...lane,
    t,
    pace: h.minutes.map((m) => m.pace),
    sent: h.minutes.map((m) => m.counts.attempts ?? 0),
    throttles: h.minutes.map((m) => m.counts.throttles ?? 0),
    marks,
  };
}

/** A reply's category from an outcome name; undefined for names that are not replies. */
function replyCategory(name: string): string | undefined {
  if (name === 'delivered') return 'accepted';
  if (name === 'bounced') return 'bounced';
  return name.startsWith('deferred:') ? name.slice('deferred:'.length) : undefined;
}

function replyCharts(lanes: readonly LaneRef[], history: (l: LaneRef) => LaneHistory): ReplyChart[] {
  const byProvider = new Map<string, Map<number, Record<string, number>>>();
  for (const lane of lanes) {
    const minutes = byProvider.get(lane.provider) ?? new Map<number, Record<string, number>>();
    byProvider.set(lane.provider, minutes);
    for (const m of history(lane).minutes) {
      const sums = minutes.get(m.minute) ?? {};
      minutes.set(m.minute, sums);
      for (const [name, n] of Object.entries(m.counts)) {
        const category = replyCategory(name);
        if (category) sums[category] = (sums[category] ?? 0) + n;
      }
    }
  }
  return [...byProvider].map(([provider, minutes]) => {
    const keys = [...minutes.keys()].sort((a, b) => a - b);
    const categories = [...new Set([...minutes.values()].flatMap((s) => Object.keys(s)))].sort();
    return {
      provider,
      t: keys.map((k) => (k * MINUTE_MS) / 1000),
      categories,
      counts: categories.map((c) => keys.map((k) => minutes.get(k)?.[c] ?? 0)),
    };
  });
}

function rampCharts(
  config: Config,
  lanes: readonly LaneRef[],
  warm: ReadonlyMap<string, WarmRecord>,
  history: (l: LaneRef) => LaneHistory,
  now: number,
): RampChart[] {
  const offset = zoneOffsetMs(config.settings.timezone, now);
  const today = dayNumber(now, offset);
  const keep = historyDays(config.schedules.values());
  const out: RampChart[] = [];
  for (const source of [...new Set(lanes.map((l) => l.source))]) {
    const schedule = scheduleOf(config, config.sources.get(source));
    const mine = lanes.filter((l) => l.source === source && warm.has(laneKey(l)));
    if (!schedule || mine.length === 0) continue;
    const starts = mine.map((l) => (warm.get(laneKey(l)) as WarmRecord).start);
    const first = Math.max(Math.min(...starts), oldestDay(today, keep));
    const last = Math.max(today, ...mine.map((l, i) => (starts[i] as number) + ramp(schedule, l.provider).length - 1));
    const days = Array.from({ length: last - first + 1 }, (_, i) => first + i);
    out.push({
      source,
      schedule: schedule.name,
      t: days.map((d) => (d * DAY_MS - offset) / 1000),
      dates: days.map((d) => new Date(d * DAY_MS).toISOString().slice(0, 10)),
      providers: mine.map((l, i) => rampLine(schedule, l.provider, starts[i] as number, days, history(l))),
    });
  }
  return out;
}

function rampLine(schedule: ScheduleConfig, provider: string, start: number, days: number[], h: LaneHistory) {
  const sent = new Map(h.days.map((d) => [d.day, d.counts.attempts ?? 0]));
  return {
    provider,
    planned: days.map((d) => capFor(schedule, provider, d - start + 1) ?? null),
    sent: days.map((d) => sent.get(d) ?? 0),
  };
}
