/**
 * A lane's state for scripts: what holds it back (`kind`, the most severe of
 * `kinds`), until when, and the filter `paceline status --state KIND` uses.
 * Pure: a normalized lane state, its limits and a clock in.
 */

import { nextDayStartMs } from '../core/day';
import type { LaneLimits, LaneState } from '../core/lane-state';

/** What can hold a lane back, most severe first; `ok` when nothing does. */
export const STATE_KINDS = ['blocked', 'paused', 'capped', 'connections', 'slowed', 'ok'] as const;
export type StateKind = (typeof STATE_KINDS)[number];

/** The lane's state as separate machine fields (ISO timestamps, null when not applicable). */
export interface StateDetail {
  /** The most severe kind that applies. */
  kind: StateKind;
  /** Every kind that applies, most severe first (`['ok']` when none). */
  kinds: StateKind[];
  /** When `kind` ends: blocked → next trial, paused → end of the pause, capped → next day, connections → end of the cap. */
  until: string | null;
  /** When the lane was blocked (block-listed). */
  blockedAt: string | null;
  /** End of the pause a throttle or suspend reply set. */
  pausedUntil: string | null;
  /** The temporary concurrency cap after "too many connections" replies, and its end. */
  connectionsCap: number | null;
  connectionsCapUntil: string | null;
  /** Share of the configured pace in force (1 = full). */
  factor: number;
  /** Why, when something holds the lane back: the last reaction's reply, in words; null when `ok` or unknown. */
  reason: string | null;
  /** That reply's rule ('' when no rule matched), category, text (escaped, cut at 200 characters) and time (ISO). */
  rule: string | null;
  category: string | null;
  reply: string | null;
  reactedAt: string | null;
}

/** Why a lane's state last changed (a reaction to a reply), as the store keeps it. */
export interface ReasonRecord {
  readonly at: number;
  readonly effect: string;
  readonly category: string;
  readonly rule: string;
  readonly reply: string;
}

const iso = (ms: number): string | null => (ms > 0 ? new Date(ms).toISOString() : null);

/** The kinds that apply to a normalized lane state `s`, with when each ends (epoch ms, 0 = no set end). */
function kindsOf(s: LaneState, limits: LaneLimits, now: number): Array<[StateKind, number]> {
  const out: Array<[StateKind, number]> = [];
  if (s.blockedAt) out.push(['blocked', s.trialAt]);
  if (s.pauseUntil > now) out.push(['paused', s.pauseUntil]);
  if (limits.perDay !== undefined && s.dayCount >= limits.perDay)
    out.push(['capped', nextDayStartMs(now, limits.dayOffsetMs)]);
  if (s.connCap > 0) out.push(['connections', s.connCapUntil]);
  if (s.factor < 1) out.push(['slowed', 0]);
  return out;
}

/** The state detail of a normalized lane state. */
export function stateDetail(
  s: LaneState,
  limits: LaneLimits,
  now: number,
  why: ReasonRecord | null = null,
): StateDetail {
  const kinds = kindsOf(s, limits, now);
  const [first] = kinds;
  const r = first ? why : null;
  return {
    kind: first ? first[0] : 'ok',
    kinds: kinds.length > 0 ? kinds.map(([k]) => k) : ['ok'],
    until: first ? iso(first[1]) : null,
    blockedAt: iso(s.blockedAt),
    pausedUntil: s.pauseUntil > now ? iso(s.pauseUntil) : null,
    connectionsCap: s.connCap > 0 ? s.connCap : null,
    connectionsCapUntil: s.connCap > 0 ? iso(s.connCapUntil) : null,
    factor: s.factor,
    reason: r ? `${r.effect} after a ${r.category} reply${r.rule ? ` (rule ${r.rule})` : ''}` : null,
    rule: r ? r.rule : null,
    category: r ? r.category : null,
    reply: r ? r.reply : null,
    reactedAt: r ? new Date(r.at).toISOString() : null,
  };
}

/** Parses a `--state` value; a string error names the kinds. */
export function parseStateKind(value: string | undefined): { kind: StateKind } | string {
  const kind = STATE_KINDS.find((k) => k === value);
  return kind ? { kind } : `--state needs one of ${STATE_KINDS.join(', ')} (got "${value ?? ''}")`;
}
