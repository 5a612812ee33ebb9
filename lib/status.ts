/**
 * What `paceline status` shows per lane: its limits, what it sent today, what
 * is in flight, when its next slot is free and what state adaptation left it
 * in. Pure: lanes and a clock in, rows out.
 */

import { concurrencyLimit, earliestAt, normalize, type LaneLimits, type LaneState } from './core/lane';
import { formatRate } from './core/rate';
import { laneLimits } from './config/lane-limits';
import type { Config } from './config/types';
import type { LaneRef } from './store/types';

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
}

function stateOf(s: LaneState, limits: LaneLimits, now: number): string {
  if (s.blockedAt) return `blocked since ${new Date(s.blockedAt).toISOString()}, next probe ${new Date(s.probeAt).toISOString()}`;
  const parts: string[] = [];
  if (s.pauseUntil > now) parts.push(`paused ${Math.ceil((s.pauseUntil - now) / 1000)}s`);
  if (s.connCap > 0) parts.push(`connections capped at ${s.connCap}`);
  if (s.factor < 1) parts.push(`slowed to ${Math.round(s.factor * 100)}%`);
  if (limits.perDay !== undefined && s.dayCount >= limits.perDay) parts.push('daily volume used');
  return parts.join(', ') || 'ok';
}

/** Rows for every lane with state, sorted by source then provider. */
export function statusRows(config: Config, lanes: ReadonlyArray<{ lane: LaneRef; state: LaneState }>, now: number): StatusRow[] {
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
    };
  });
  return rows.sort((a, b) => a.source.localeCompare(b.source) || a.provider.localeCompare(b.provider));
}

/** The rows as an aligned text table. */
export function statusTable(rows: readonly StatusRow[]): string[] {
  const head = ['source', 'provider', 'rate', 'conc', 'per_day', 'last min', 'today', 'in flight', 'next free', 'state'];
  const cells = rows.map((r) => [r.source, r.provider, r.rate, String(r.concurrency ?? '-'), String(r.perDay ?? '-'), String(r.sentLastMinute), String(r.sentToday), String(r.inFlight), r.nextFreeS ? `${r.nextFreeS}s` : 'now', r.state]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: string[]) => c.map((x, i) => x.padEnd(widths[i] as number)).join('  ').trimEnd();
  return [line(head), ...cells.map(line)];
}
