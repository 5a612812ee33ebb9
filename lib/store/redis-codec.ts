/**
 * Translates between the store interface and the scripts' ARGV and replies.
 * Doubles cross in both directions as exact text (JS `String(x)` out, Lua
 * `%.17g` back), never as Redis integers, which would truncate them. Each
 * ARGV group has one encoder here and one reader in lua/includes; a new
 * field goes at the end of its group in lib/store/script-args.ts, which
 * both sides follow.
 */

import type { ReactParams } from '../core/adapt';
import type { AcquireResult, LaneLimits, LaneState } from '../core/lane-state';
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
import { ARG_GROUPS } from './script-args';

/** An optional number as ARGV: '' when absent. */
export function optionalArg(n: number | undefined): string {
  return n === undefined ? '' : String(n);
}

/**
 * LaneLimits as the `limits` ARGV group, in the field order of
 * script-args.ts ('' = absent: unlimited, default policy, UTC).
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

type LimitField = (typeof ARG_GROUPS.limits)[number];

/** Each field of the `limits` group from a LaneLimits ('' = absent). */
const LIMIT_FIELDS: Readonly<Record<LimitField, (l: LaneLimits) => string>> = {
  rateCount: (l) => optionalArg(l.rate?.count),
  ratePeriodMs: (l) => optionalArg(l.rate?.periodMs),
  rateBurst: (l) => optionalArg(l.rate?.burst),
  rateKey: (l) => (l.rate ? formatRate(l.rate) : ''),
  concurrency: (l) => optionalArg(l.concurrency),
  perDay: (l) => optionalArg(l.perDay),
  recoverStep: (l) => optionalArg(l.policy?.recoverStep),
  recoverIntervalMs: (l) => optionalArg(l.policy?.recoverIntervalMs),
  trialIntervalMs: (l) => optionalArg(l.policy?.trialIntervalMs),
  dayOffsetMs: (l) => optionalArg(l.dayOffsetMs),
  climbStep: (l) => optionalArg(l.policy?.climbStep),
  start: (l) => optionalArg(l.policy?.start),
  startIntervalMs: (l) => optionalArg(l.policy?.startIntervalMs),
};

function encodeLimits(limits: LaneLimits): readonly string[] {
  return ARG_GROUPS.limits.map((f) => LIMIT_FIELDS[f](limits));
}

/** A delivery duration, ms, as ARGV: '' when it must not feed the average (as release() of lane.ts). */
export function durationArg(durationMs: number | undefined): string {
  return durationMs === undefined || !Number.isFinite(durationMs) || durationMs < 0 ? '' : String(durationMs);
}

/** ReactParams as the `react` ARGV group (field order of script-args.ts). */
export function reactArgs(p: ReactParams): string[] {
  return ARG_GROUPS.react.map((f) => String(p[f]));
}

/** IncidentParams as the `incident` ARGV group (field order of script-args.ts). */
export function incidentArgs(p: IncidentParams): string[] {
  return ARG_GROUPS.incident.map((f) => String(p[f]));
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
