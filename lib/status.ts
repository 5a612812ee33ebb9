/**
 * What `paceline status` shows per lane: its limits, what it sent today, what
 * is in flight, when its next slot is free and what state adaptation left it
 * in. Pure: lanes and a clock in, rows out.
 */

import { concurrencyLimit, earliestAt, normalize, type LaneLimits, type LaneState } from './core/lane';
import { formatRate, perMinute } from './core/rate';
import { laneLimits } from './config/lane-limits';
import type { Config } from './config/types';
import type { LaneRef } from './store/types';
import { dayNumber, zoneOffsetMs } from './core/day';
import { capFor, scheduleDay, type WarmRecord } from './core/warmup';

export interface StatusRow {
  source: string;
  provider: string;
  rate: string;
  concurrency: number | null;
  perDay: number | null;
  sentLastMinute: number;
  sentToday: number;
  inFlight: number;
  /** Seconds until the next free slot (0 = free now). */
  nextFreeS: number;
  /** ok, slowed (pace factor), paused, capped, blocked. */
  state: string;
  factor: number;
  /** The pace factor learnt from what the provider accepted (see [adapt] accepted_share); null when none. */
  knownGood: number | null;
  /** A warming source's position: schedule, day, today's cap, progression. */
  warmup?: { schedule: string; progression: string; day: number; cap: number | null; frozen?: true };
}

/** Warm-up records by lane key (`source|provider`). */
export type WarmRecords = ReadonlyMap<string, WarmRecord>;

function warmupOf(config: Config, lane: LaneRef, record: WarmRecord | undefined, now: number): StatusRow['warmup'] {
  const source = config.sources.get(lane.source);
  const schedule = source?.warmup ? config.schedules.get(source.warmup.schedule) : undefined;
  if (!schedule || !record) return undefined;
  const day = scheduleDay(schedule, record, dayNumber(now, zoneOffsetMs(config.settings.timezone, now)));
  return { schedule: schedule.name, progression: schedule.progression, day, cap: capFor(schedule, lane.provider, day) ?? null, ...(record.frozen ? { frozen: true as const } : {}) };
}

function stateOf(s: LaneState, limits: LaneLimits, now: number): string {
  if (s.blockedAt) return `blocked since ${new Date(s.blockedAt).toISOString()}, next probe ${new Date(s.probeAt).toISOString()}`;
  const parts: string[] = [];
  if (s.pauseUntil > now) parts.push(`paused ${Math.ceil((s.pauseUntil - now) / 1000)}s`);
  if (s.connCap > 0) parts.push(`connections capped at ${s.connCap}`);
  if (s.factor < 1) parts.push(`slowed to ${Math.round(s.factor * 100)}%`);
  if (s.known > 0) parts.push(`known-good pace ${Math.round(s.known * 100)}%${limits.rate ? ` (${Math.round(s.known * perMinute(limits.rate))}/min)` : ''}`);
  if (limits.perDay !== undefined && s.dayCount >= limits.perDay) parts.push('daily volume used');
  return parts.join(', ') || 'ok';
}

/** Rows for every lane with state, sorted by source then provider. */
export function statusRows(config: Config, lanes: ReadonlyArray<{ lane: LaneRef; state: LaneState }>, now: number, warm: WarmRecords = new Map()): StatusRow[] {
  const rows = lanes.map(({ lane, state }) => {
    const limits = laneLimits(config, config.settings.defaultPool, lane.source, lane.provider);
    const s = normalize(state, limits, now, true);
    const limit = concurrencyLimit(s, limits);
    return {
      source: lane.source,
      provider: lane.provider,
      rate: s.rateKey || (limits.rate ? formatRate(limits.rate) : 'unlimited'),
      concurrency: Number.isFinite(limit) ? limit : null,
      perDay: limits.perDay ?? null,
      sentLastMinute: s.minute === Math.floor(now / 60_000) ? s.minuteCount : 0,
      sentToday: s.dayCount,
      inFlight: s.leases.length,
      nextFreeS: Math.max(0, Math.ceil((earliestAt(state, limits, now) - now) / 1000)),
      state: stateOf(s, limits, now),
      factor: s.factor,
      knownGood: s.known > 0 ? s.known : null,
      ...(() => {
        const w = warmupOf(config, lane, warm.get(`${lane.source}|${lane.provider}`), now);
        return w ? { warmup: w } : {};
      })(),
    };
  });
  return rows.sort((a, b) => a.source.localeCompare(b.source) || a.provider.localeCompare(b.provider));
}

/** The rows as an aligned text table. */
export function statusTable(rows: readonly StatusRow[]): string[] {
  const head = ['source', 'provider', 'rate', 'conc', 'per_day', 'last min', 'today', 'in flight', 'next free', 'warm-up', 'state'];
  const warm = (r: StatusRow) =>
    r.warmup ? `${r.warmup.schedule} day ${r.warmup.day} (${r.warmup.progression}${r.warmup.frozen ? ', frozen' : ''}), cap ${r.warmup.cap ?? 'warm'}, used ${r.sentToday}` : '-';
  const cells = rows.map((r) => [r.source, r.provider, r.rate, String(r.concurrency ?? '-'), String(r.perDay ?? '-'), String(r.sentLastMinute), String(r.sentToday), String(r.inFlight), r.nextFreeS ? `${r.nextFreeS}s` : 'now', warm(r), r.state]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(head), ...cells.map(line)];
}
