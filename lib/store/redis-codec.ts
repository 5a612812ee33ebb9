/**
 * Translates between the store interface and the scripts' ARGV and replies.
 * Doubles cross in both directions as exact text (JS `String(x)` out, Lua
 * `%.17g` back), never as Redis integers, which would truncate them. Each
 * ARGV group has one encoder here and one reader in lua/includes; a new
 * field goes at the end of its group on both sides.
 */

import type { ReactEvent, ReactParams } from '../core/adapt';
import type { AcquireResult, LaneLimits, LaneState } from '../core/lane';
import type { IncidentParams, ProviderState } from '../core/provider-state';
import { formatRate } from '../core/rate';
import type { WarmRecord } from '../core/warmup';
import {
  oldestMinute,
  sortedCounts,
  type Counts,
  type HistoryDay,
  type HistoryMinute,
  type LaneHistory,
} from '../core/history';
import { CODE, waitReason } from './codes';
import { STATE_FIELDS } from './redis-scripts';

function optional(n: number | undefined): string {
  return n === undefined ? '' : String(n);
}

/**
 * LaneLimits as 13 ARGV: rate count, period ms, burst, canonical rate string,
 * concurrency, per day, policy recover step, recover interval ms, probe
 * interval ms, day offset ms, policy climb step, policy start, policy start
 * interval ms ('' = absent: unlimited, default policy, UTC).
 */
export function limitArgs(limits: LaneLimits): readonly string[] {
  let args = encoded.get(limits);
  if (!args) {
    args = encodeLimits(limits);
    encoded.set(limits, args);
  }
  return args;
}

/** Limits objects are memoised per config (lane-limits.ts), so their encoding is too. */
const encoded = new WeakMap<LaneLimits, readonly string[]>();

function encodeLimits(limits: LaneLimits): readonly string[] {
  const r = limits.rate;
  const rate = r ? [String(r.count), String(r.periodMs), String(r.burst), formatRate(r)] : ['', '', '', ''];
  const p = limits.policy;
  const policy = p ? [String(p.recoverStep), String(p.recoverIntervalMs), String(p.probeIntervalMs)] : ['', '', ''];
  const added = p ? [String(p.climbStep), String(p.start), String(p.startIntervalMs)] : ['', '', ''];
  return [
    ...rate,
    optional(limits.concurrency),
    optional(limits.perDay),
    ...policy,
    optional(limits.dayOffsetMs),
    ...added,
  ];
}

/** A delivery duration, ms, as ARGV: '' when it must not feed the average (as release() of lane.ts). */
export function durationArg(durationMs: number | undefined): string {
  return durationMs === undefined || !Number.isFinite(durationMs) || durationMs < 0 ? '' : String(durationMs);
}

/**
 * A reply category with its own duration and when the refused message was
 * sent ('' = absent), then ReactParams (9): 12 ARGV.
 */
export function reactArgs(event: ReactEvent, p: ReactParams): string[] {
  const params = [
    p.decrease,
    p.floor,
    p.throttlePauseMs,
    p.holdMs,
    p.connectionsMs,
    p.suspendMs,
    p.acceptedShare,
    p.climbCost,
    p.throttlePauseMaxMs,
  ];
  return [event.category, optional(event.durationMs), optional(event.sentAt), ...params.map(String)];
}

/** IncidentParams as 5 ARGV. */
export function incidentArgs(p: IncidentParams): string[] {
  return [p.windowMs, p.minSources, p.share, p.pauseMs, p.probeIntervalMs].map(String);
}

/** Item `i` of a script reply as text. */
export function item(reply: unknown, i: number): string {
  const v = Array.isArray(reply) ? (reply[i] as unknown) : undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  if (Buffer.isBuffer(v)) return v.toString();
  throw new Error(`paceline: unexpected Redis script reply ${JSON.stringify(reply)}`);
}

function length(reply: unknown): number {
  if (!Array.isArray(reply)) throw new Error(`paceline: unexpected Redis script reply ${JSON.stringify(reply)}`);
  return reply.length;
}

/** The `{ code, now, at, epoch }` reply of acquire and claim. */
export function decodeDecision(reply: unknown, leaseId: string): { now: number; value: AcquireResult } {
  const code = Number(item(reply, 0));
  const now = Number(item(reply, 1));
  const at = Number(item(reply, 2));
  if (code === CODE.GRANTED) return { now, value: { kind: 'granted', leaseId } };
  if (code === CODE.RESERVED)
    return { now, value: { kind: 'reserved', at, epoch: Number(item(reply, 3)), slot: Number(item(reply, 4)) } };
  const reason = waitReason(code);
  if (!reason) throw new Error(`paceline: unknown result code ${code} from Redis`);
  return { now, value: { kind: 'wait', at, reason } };
}

/** A LaneState from reply items `from..`: the STATE_FIELDS in order, then lease id and expiry pairs. */
export function decodeState(reply: unknown, from: number): LaneState {
  const state: Record<string, unknown> = {};
  STATE_FIELDS.forEach(([, property, kind], i) => {
    const v = item(reply, from + i);
    state[property] = kind === 'n' ? Number(v) : v;
  });
  const leases: Array<{ id: string; expiresAt: number }> = [];
  for (let i = from + STATE_FIELDS.length; i + 1 < length(reply); i += 2) {
    leases.push({ id: item(reply, i), expiresAt: Number(item(reply, i + 1)) });
  }
  state.leases = leases;
  return state as unknown as LaneState;
}

/** A ProviderState from reply items `from..`: pauseUntil, probing, probeAt, then source and time pairs. */
export function decodeProvider(reply: unknown, from: number): ProviderState {
  const throttled: Record<string, number> = {};
  for (let i = from + 4; i + 1 < length(reply); i += 2) throttled[item(reply, i)] = Number(item(reply, i + 1));
  return {
    throttled,
    pauseUntil: Number(item(reply, from)),
    probing: Number(item(reply, from + 1)),
    probeAt: Number(item(reply, from + 2)),
    declaredAt: Number(item(reply, from + 3)),
  };
}

/** The fields of a warm-up record, in the order they are stored. */
export const WARM_FIELDS: ReadonlyArray<keyof WarmRecord> = ['start', 'step', 'evaluated', 'badDays', 'frozen'];

/** A WarmRecord as field, value ARGV pairs (`frozen` only when set). */
export function warmArgs(record: WarmRecord): string[] {
  return WARM_FIELDS.flatMap((f) => (record[f] === undefined ? [] : [f, String(record[f])]));
}

/** A WarmRecord from reply items `from..` (field, value pairs). */
export function decodeWarm(reply: unknown, from: number): WarmRecord {
  const fields = new Map<string, number>();
  for (let i = from; i + 1 < length(reply); i += 2) fields.set(item(reply, i), Number(item(reply, i + 1)));
  const record: Record<string, number> = {};
  for (const f of WARM_FIELDS) if (f !== 'frozen') record[f] = fields.get(f) ?? 0;
  if (fields.get('frozen') === 1) record.frozen = 1;
  return record as unknown as WarmRecord;
}

/**
 * A lane's history hash (lua/tally-3.lua) as buckets, oldest first: m<minute>
 * = {"c": counts, "p": pace text}, d<day> = counts; minutes older than 48 h
 * at `now` left out. An unreadable field is skipped.
 */
export function decodeHistory(hash: Record<string, string>, now: number): LaneHistory {
  const from = oldestMinute(now);
  const minutes: HistoryMinute[] = [];
  const days: HistoryDay[] = [];
  for (const [field, raw] of Object.entries(hash)) {
    const m = /^([md])(-?\d+)$/.exec(field);
    if (!m) continue;
    const at = Number(m[2]);
    try {
      const value = JSON.parse(raw) as { c?: Counts; p?: string } & Counts;
      if (m[1] === 'd') days.push({ day: at, counts: sortedCounts(value) });
      else if (at >= from)
        minutes.push({ minute: at, counts: sortedCounts(value.c ?? {}), pace: Number(value.p ?? 1) });
    } catch {
      // a field written by another version: not part of the history
    }
  }
  minutes.sort((a, b) => a.minute - b.minute);
  days.sort((a, b) => a.day - b.day);
  return { minutes, days };
}
