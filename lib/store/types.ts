/**
 * Where pacing state lives. Every method is one atomic step on one lane (one
 * Lua script on Redis; one synchronous step in memory), so choosing among a
 * pool's sources costs one `peek` plus one `acquire` in the common case.
 * The store owns the clock: results carry the store's `now` (epoch ms), so
 * every host of a cluster measures time the same way.
 */

import type { AcquireRequest, AcquireResult, LaneLimits, LaneState } from '../core/lane';

/** A lane: one source × one provider. */
export interface LaneRef {
  readonly source: string;
  readonly provider: string;
}

export interface StoreResult<T> {
  readonly now: number;
  readonly value: T;
}

export interface PacingStore {
  /** Current state of several lanes (missing lanes are empty), for choosing a source. */
  peek(lanes: readonly LaneRef[]): Promise<StoreResult<LaneState[]>>;
  /** Atomically check the lane and take (or reserve) a slot. */
  acquire(lane: LaneRef, limits: LaneLimits, req: AcquireRequest): Promise<StoreResult<AcquireResult>>;
  /** Atomically take a concurrency lease for a message holding a reserved rate slot. */
  claim(lane: LaneRef, limits: LaneLimits, req: { reservedAt: number; leaseId: string; leaseMs: number }): Promise<StoreResult<AcquireResult>>;
  /** A delivery ended: free its lease. `durationMs` feeds the delivery-time estimate. */
  release(lane: LaneRef, leaseId: string, durationMs?: number): Promise<void>;
  /** Every lane with state, for `paceline status`. */
  lanes(): Promise<StoreResult<Array<{ lane: LaneRef; state: LaneState }>>>;
  close(): Promise<void>;
}

/** The key of a lane inside a store (source names cannot contain `|`, so the first `|` splits). */
export function laneKey(lane: LaneRef): string {
  return `${lane.source}|${lane.provider}`;
}
