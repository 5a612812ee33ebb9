/**
 * Store conformance, the vocabulary: a Step is one call on a PacingStore at a
 * given time; `execute` runs it and renders the result as a short text, and
 * `summary` renders a lane's (and its provider's) state, with times relative
 * to T0 and only the fields that differ from an empty lane. Both the table
 * (conformance.ts) and the random sequences (differential.ts) use them, for
 * every store.
 */

import { DEFAULT_REACT, type Category } from '../../lib/core/adapt';
import { DAY_MS } from '../../lib/core/day';
import { emptyLane, type AcquireResult, type LaneLimits, type LaneState } from '../../lib/core/lane-state';
import { DEFAULT_INCIDENT, emptyProvider, type ProviderState } from '../../lib/core/provider-state';
import { parseRate, type Rate } from '../../lib/core/rate';
import type { WarmRecord } from '../../lib/core/warmup';
import type { LaneRef, PacingStore } from '../../lib/store/types';
import { describeTarget, type Control, type ControlTarget } from '../../lib/core/control';

/** 01:00 UTC on day 20000 (2024-10-04): every table time is an offset from here. */
export const T0 = 20_000 * DAY_MS + 3_600_000;
/** Offset of the next midnight from T0. */
export const MIDNIGHT = DAY_MS - 3_600_000;
export const LEASE_MS = 600_000;

export const rate = (text: string): Rate => {
  const r = parseRate(text);
  if (typeof r === 'string') throw new Error(`bad rate ${text}: ${r}`);
  return r;
};

/** One store call. `lane` picks the case's first (0, default) or second (1) lane; `limits` overrides the case's. */
export type Step = { at: number; lane?: 0 | 1; limits?: LaneLimits } & (
  | { op: 'acquire'; mode: 'now' | 'reserve'; id: string; leaseMs?: number }
  | { op: 'claim'; slot: number; epoch?: number; id: string; leaseMs?: number }
  | { op: 'release'; id: string; delivered?: boolean; durationMs?: number }
  | { op: 'renew'; ids: string[]; ttlMs: number }
  /** Drops, on every lane, the leases whose id starts with `node` but not `owner`. */
  | { op: 'releaseStale'; node: string; owner: string }
  /** `sentAt`: when the refused message was sent, ms after T0 (absent = unknown). */
  | { op: 'react'; category: Category | 'forgive'; durationMs?: number; sentAt?: number }
  | { op: 'hit'; rule: string; windowMs: number }
  | { op: 'providerThrottle'; sources: number }
  | { op: 'providerProbe' }
  | { op: 'providerDelivered' }
  | { op: 'peek' }
  | { op: 'warmGet' }
  | { op: 'warmSave'; record: WarmRecord }
  /** An operator's forced write, then the record read back. */
  | { op: 'warmPut'; record: WarmRecord }
  | { op: 'sourceStart'; today: number }
  | { op: 'laneControl'; control: 'lift' | 'reset' }
  | { op: 'providerLift' }
  /** An operator pause of the lane's provider (`target` provider), source or the lane itself; `forMs` 0 = until resumed. */
  | { op: 'pause'; target: 'lane' | 'provider' | 'source'; forMs: number }
  | { op: 'resume'; target: 'lane' | 'provider' | 'source' }
  | { op: 'controls' }
);

/** What a step runs against: the store, the case's two lanes, their provider and default limits. */
export interface Target {
  readonly store: PacingStore;
  readonly lanes: readonly [LaneRef, LaneRef];
  readonly limits: LaneLimits;
}

/** `+ms` relative to T0 for a time, `0` for none. */
export function rel(t: number): string {
  return t === 0 ? '0' : `+${t - T0}`;
}

function decision(r: AcquireResult): string {
  if (r.kind === 'granted') return 'granted';
  if (r.kind === 'reserved') return `reserved@${rel(r.at)} s${rel(r.slot)} e${r.epoch}`;
  return `wait@${rel(r.at)}:${r.reason}`;
}

function warm(r: WarmRecord | null): string {
  return r
    ? `warm start=${r.start} step=${r.step} evaluated=${r.evaluated} badDays=${r.badDays}${r.frozen ? ' frozen' : ''}`
    : 'warm none';
}

function targetOf(kind: 'lane' | 'provider' | 'source', lane: LaneRef): ControlTarget {
  return kind === 'lane'
    ? { kind, ...lane }
    : kind === 'provider'
      ? { kind, provider: lane.provider }
      : { kind, source: lane.source };
}

function control(c: Control | null): string {
  return c
    ? `pause ${describeTarget(c.target)} at ${rel(c.at)} until ${rel(c.until)} by ${c.who} (${c.reason})`
    : 'none';
}

/** Runs one step at T0 + step.at (the caller's clock reads `setNow`) and renders its result. */
export async function execute(target: Target, step: Step, setNow: (t: number) => void): Promise<string> {
  setNow(T0 + step.at);
  const { store } = target;
  const lane = target.lanes[step.lane ?? 0];
  const limits = step.limits ?? target.limits;
  switch (step.op) {
    case 'acquire':
      return decision(
        (await store.acquire(lane, limits, { mode: step.mode, leaseId: step.id, leaseMs: step.leaseMs ?? LEASE_MS }))
          .value,
      );
    case 'claim': {
      const req = { slot: T0 + step.slot, epoch: step.epoch ?? 0, leaseId: step.id, leaseMs: step.leaseMs ?? LEASE_MS };
      return decision((await store.claim(lane, limits, req)).value);
    }
    case 'release':
      await store.release(lane, limits, step.id, step.delivered ?? true, step.durationMs);
      return 'ok';
    case 'renew':
      return `renewed ${await store.renew(lane, step.ids, step.ttlMs)}`;
    case 'releaseStale':
      return `dropped ${await store.releaseStale(step.node, step.owner)}`;
    case 'react': {
      const event = {
        category: step.category,
        durationMs: step.durationMs,
        sentAt: step.sentAt === undefined ? undefined : T0 + step.sentAt,
      };
      return (await store.react(lane, limits, event, DEFAULT_REACT)).value.effect;
    }
    case 'hit':
      return `hits ${await store.hit(lane, step.rule, step.windowMs)}`;
    case 'providerThrottle': {
      const r = await store.providerThrottle(lane.provider, lane.source, step.sources, DEFAULT_INCIDENT);
      return r.incident ? `incident ${r.explained.join(',')} until ${rel(r.pauseUntil)}` : 'quiet';
    }
    case 'providerProbe': {
      const { value } = await store.providerProbe(lane.provider, DEFAULT_INCIDENT);
      return `${value.ok ? 'ok' : 'no'}@${rel(value.at)}`;
    }
    case 'providerDelivered':
      await store.providerDelivered(lane.provider);
      return 'ok';
    case 'peek': {
      const { now } = await store.peek(target.lanes, lane.provider);
      return `now ${rel(now)}`;
    }
    case 'warmGet':
      return warm(await store.warmRecord(lane));
    case 'warmSave':
      return warm(await store.saveWarmRecord(lane, step.record));
    case 'warmPut':
      await store.putWarmRecord(lane, step.record);
      return warm(await store.warmRecord(lane));
    case 'sourceStart':
      return `start ${await store.sourceStart(lane.source, step.today)}`;
    case 'laneControl':
      return (await store.laneControl(lane, step.control)) ? 'changed' : 'unchanged';
    case 'providerLift':
      return (await store.liftProvider(lane.provider)) ? 'changed' : 'unchanged';
    case 'pause':
      return control(
        (await store.setControl({ target: targetOf(step.target, lane), forMs: step.forMs, reason: 'test', who: 'op' }))
          .value,
      );
    case 'resume':
      return control((await store.clearControl(targetOf(step.target, lane))).value);
    case 'controls': {
      const { value } = await store.controls();
      return value.length === 0 ? 'none' : value.map(control).sort().join('; ');
    }
  }
}

/** Times shown relative to T0 (slot-clock values too: a lane never slowed has slot time = real time). */
const TIMES = new Set([
  'tat',
  'vAt',
  'vOrigin',
  'departAt',
  'pauseUntil',
  'connCapUntil',
  'blockedAt',
  'trialAt',
  'sameEventUntil',
  'recoverAt',
  'acceptedAt',
]);
const DAYS = new Set(['day', 'prevDay']);
const T0_DAY = Math.floor(T0 / DAY_MS);
const T0_MINUTE = Math.floor(T0 / 60_000);

/** A lane state as `field=value` for every field that differs from emptyLane(); leases by expiry, then id. */
export function laneSummary(state: LaneState): string {
  const empty = emptyLane() as unknown as Record<string, unknown>;
  const parts: string[] = [];
  for (const key of Object.keys(empty)) {
    const value = (state as unknown as Record<string, unknown>)[key];
    if (key === 'leases' || value === empty[key]) continue;
    const v = value as number | string;
    const shown =
      TIMES.has(key) || (key === 'growAt' && (v as number) > 0)
        ? rel(v as number)
        : key === 'growAt' && (v as number) < 0
          ? `ended${rel(-(v as number))}`
          : DAYS.has(key)
            ? `+${(v as number) - T0_DAY}`
            : key === 'minute' || key === 'acceptMinute'
              ? `+${(v as number) - T0_MINUTE}`
              : String(v);
    parts.push(`${key}=${shown}`);
  }
  const leases = [...state.leases].sort(
    (a, b) => a.expiresAt - b.expiresAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  if (leases.length > 0) parts.push(`leases=${leases.map((l) => `${l.id}@${rel(l.expiresAt)}`).join(',')}`);
  return parts.join(' ');
}

/** A provider state like laneSummary; throttled sources sorted by name. */
export function providerSummary(state: ProviderState): string {
  const empty = emptyProvider();
  const parts: string[] = [];
  if (state.pauseUntil !== empty.pauseUntil) parts.push(`pauseUntil=${rel(state.pauseUntil)}`);
  if (state.probing !== empty.probing) parts.push(`probing=${state.probing}`);
  if (state.probeAt !== empty.probeAt) parts.push(`probeAt=${rel(state.probeAt)}`);
  if (state.declaredAt !== empty.declaredAt) parts.push(`declaredAt=${rel(state.declaredAt)}`);
  const names = Object.keys(state.throttled).sort();
  if (names.length > 0)
    parts.push(`throttled=${names.map((n) => `${n}@${rel(state.throttled[n] as number)}`).join(',')}`);
  return parts.join(' ');
}

/**
 * The case's state, peeked at T0 + at: lane 0's summary, then `| lane1 ...`
 * and `| provider ...` when those are not empty.
 */
export async function summary(target: Target, at: number, setNow: (t: number) => void): Promise<string> {
  setNow(T0 + at);
  const { value } = await target.store.peek(target.lanes, target.lanes[0].provider);
  const [first, second] = value.lanes.map(laneSummary);
  const provider = providerSummary(value.provider);
  return [first ?? '', ...(second ? [`lane1 ${second}`] : []), ...(provider ? [`provider ${provider}`] : [])].join(
    ' | ',
  );
}

/**
 * A summary as an object, one key per field (`lane1.` and `provider.` before
 * the fields of those parts), so that a failing comparison names the fields
 * that differ instead of showing two long strings.
 */
export function summaryFields(summary: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, part] of summary.split(' | ').entries()) {
    const words = part.split(' ').filter((w) => w !== '');
    const prefix = i > 0 && words[0] && !words[0].includes('=') ? `${words.shift()}.` : '';
    for (const w of words) {
      const eq = w.indexOf('=');
      out[`${prefix}${eq < 0 ? w : w.slice(0, eq)}`] = eq < 0 ? '' : w.slice(eq + 1);
    }
  }
  return out;
}

/** The fields where two summaries differ, as `field: want → got`. */
export function summaryDiff(want: string, got: string): string {
  const [a, b] = [summaryFields(want), summaryFields(got)];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys
    .filter((k) => a[k] !== b[k])
    .map((k) => `${k}: ${a[k] ?? '(none)'} → ${b[k] ?? '(none)'}`)
    .join(', ');
}
