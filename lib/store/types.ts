/**
 * Where pacing state lives. Every method is one atomic step on one lane or
 * one provider (one Lua script on Redis; one synchronous step in memory), so
 * choosing among a pool's sources costs one `peek` plus one `acquire` in the
 * common case. The store owns the clock: results carry the store's `now`
 * (epoch ms), so every host of a cluster measures time the same way.
 */

import type { Effect, ReactEvent, ReactParams } from '../core/adapt';
import type { AcquireRequest, AcquireResult, ClaimRequest, LaneLimits, LaneState } from '../core/lane-state';
import type { IncidentParams, ProviderState } from '../core/provider-state';
import type { TallyFields } from '../core/tally';
import type { LaneHistory } from '../core/history';
import type { WarmRecord } from '../core/warmup';
import type { Control, ControlRequest, ControlTarget } from '../core/control';

/** Why a lane's state last changed: the reaction and the reply that caused it. */
export interface LaneReason {
  /** When it was recorded (epoch ms, the store's clock). */
  readonly at: number;
  readonly effect: string;
  readonly category: string;
  /** The rule that matched ('' when none). */
  readonly rule: string;
  /** The reply text, escaped and cut (lib/core/log-text.ts). */
  readonly reply: string;
}

/** One process's status report as the store keeps it (see PacingStore.report). */
export interface ProcessReport {
  readonly id: string;
  readonly text: string;
  /** When it stops counting (epoch ms, the store's clock). */
  readonly until: number;
}

/** A lane: one source × one provider. */
export interface LaneRef {
  readonly source: string;
  readonly provider: string;
}

export interface StoreResult<T> {
  readonly now: number;
  readonly value: T;
  /**
   * Set on answers of a stand-in store (the local fallback while the shared
   * store is away): a slot it booked may come nearer when the shared store is
   * back, so a message booked by it comes back at least this often (ms).
   */
  readonly recheckMs?: number;
}

export interface PacingStore {
  /** Current state of several lanes (missing lanes are empty), plus their provider's state. */
  peek(
    lanes: readonly LaneRef[],
    provider: string,
  ): Promise<StoreResult<{ lanes: LaneState[]; provider: ProviderState }>>;
  /** Atomically check the lane and take (or reserve) a slot. */
  acquire(lane: LaneRef, limits: LaneLimits, req: AcquireRequest): Promise<StoreResult<AcquireResult>>;
  /** Atomically take a concurrency lease for a message holding a reserved rate slot. */
  claim(lane: LaneRef, limits: LaneLimits, req: ClaimRequest): Promise<StoreResult<AcquireResult>>;
  /** A delivery ended: free its lease; a delivered probe unblocks. `durationMs` feeds the delivery-time estimate. */
  release(lane: LaneRef, limits: LaneLimits, leaseId: string, delivered: boolean, durationMs?: number): Promise<void>;
  /**
   * Renews the unexpired leases among `leaseIds` on the lane: each expires
   * `ttlMs` from now (or later). Returns how many were renewed.
   */
  renew(lane: LaneRef, leaseIds: readonly string[], ttlMs: number): Promise<number>;
  /**
   * A node started again: drops, on every lane, the leases whose id starts with
   * `node` but not `owner` (lib/core/lease.ts). Returns how many were dropped.
   */
  releaseStale(node: string, owner: string): Promise<number>;
  /** Applies a classified reply to the lane. */
  react(
    lane: LaneRef,
    limits: LaneLimits,
    event: ReactEvent,
    params: ReactParams,
  ): Promise<StoreResult<{ effect: Effect; state: LaneState }>>;
  /** Counts a rule's matches on a lane within a window (for rules with a threshold); returns the count including this one. */
  hit(lane: LaneRef, rule: string, windowMs: number): Promise<number>;
  /** Records a lane's throttle reaction at provider level; says whether it is a provider-wide incident. */
  providerThrottle(
    provider: string,
    source: string,
    sources: number,
    params: IncidentParams,
  ): Promise<{ incident: boolean; explained: string[]; pauseUntil: number }>;
  /** Takes the provider's probe slot during an incident. */
  providerProbe(provider: string, params: IncidentParams): Promise<StoreResult<{ ok: boolean; at: number }>>;
  /** A delivery to the provider succeeded (ends an incident). */
  providerDelivered(provider: string): Promise<void>;
  /** A lane's warm-up record, or null before its first use. */
  warmRecord(lane: LaneRef): Promise<WarmRecord | null>;
  /** Saves a record unless a newer evaluation is stored; returns the record in force. */
  saveWarmRecord(lane: LaneRef, record: WarmRecord): Promise<WarmRecord>;
  /** An operator's warm-up change: stores the record whatever is stored (saveWarmRecord keeps a newer one). */
  putWarmRecord(lane: LaneRef, record: WarmRecord): Promise<void>;
  /** The day a source's warm-up started: the stored one, else `today`, stored now. */
  sourceStart(source: string, today: number): Promise<number>;
  /** The operator controls in force (ended ones are dropped). */
  controls(): Promise<StoreResult<Control[]>>;
  /** Keeps a control from the store's `now`, replacing one on the same target; returns it. */
  setControl(req: ControlRequest): Promise<StoreResult<Control>>;
  /** Ends the control on a target; returns it, or null when none was in force. */
  clearControl(target: ControlTarget): Promise<StoreResult<Control | null>>;
  /** An operator's one-off change to a lane with state (liftLane or resetPace); false when the lane has none. */
  laneControl(lane: LaneRef, op: 'lift' | 'reset'): Promise<boolean>;
  /** Ends the provider's incident (liftProvider); false when the provider has no state. */
  liftProvider(provider: string): Promise<boolean>;
  /**
   * Counts one attempt's outcome on a lane: 1 for each name, today (zone
   * offset `dayOffsetMs`) and in this 5-minute bucket; in the same step, the
   * lane's history (lib/core/history.ts): the names in this minute with the
   * lane's pace factor, and in today's bucket (names starting `mark:` in the
   * minute only), keeping `keepDays` day buckets (default HISTORY_MIN_DAYS).
   */
  tally(lane: LaneRef, names: readonly string[], dayOffsetMs: number, keepDays?: number): Promise<void>;
  /** The history buckets of some lanes (empty for a lane without any), for the dashboard. */
  histories(lanes: readonly LaneRef[]): Promise<StoreResult<LaneHistory[]>>;
  /** The stored outcome counter fields of some lanes (read them with readTally of lib/core/tally.ts). */
  tallies(lanes: readonly LaneRef[]): Promise<StoreResult<TallyFields[]>>;
  /** Records why a lane's state changed (a reaction to a reply), at the store's time. */
  reason(lane: LaneRef, reason: Omit<LaneReason, 'at'>): Promise<void>;
  /** The last reason recorded for each of some lanes (null: none in the last two days). */
  reasons(lanes: readonly LaneRef[]): Promise<StoreResult<Array<LaneReason | null>>>;
  /** Every lane with state, for `paceline status`. */
  lanes(): Promise<StoreResult<Array<{ lane: LaneRef; state: LaneState }>>>;
  /**
   * Publishes one process's status report (`text`, JSON), replacing the one
   * under `id`; it counts for `ttlMs` from the store's now, then is gone.
   */
  report(id: string, text: string, ttlMs: number): Promise<void>;
  /** The reports still counting, by id. */
  reports(): Promise<StoreResult<ProcessReport[]>>;
  close(): Promise<void>;
}

/** The key of a lane inside a store (source names cannot contain `|`, so the first `|` splits). */
export function laneKey(lane: LaneRef): string {
  return `${lane.source}|${lane.provider}`;
}
