/**
 * A lane's state (source × provider): what the store keeps per lane, the
 * limits and policy it is judged by, and the empty lane. Plain data, no
 * logic beyond the empty value: the operations on it are lib/core/throttle.ts
 * (the GCRA slot arithmetic: when may the next message go) and
 * lib/core/lane.ts (acquire, claim, release). Mirrored by
 * lib/store/lua/includes/lane-state.lua.
 */

import type { Rate } from './rate';

/** How a throttled lane climbs back and how a blocked lane is tried again. */
export interface LanePolicy {
  /** Added to the pace factor after each clean interval (0.1 = 10 % of the limit), up to the known-good pace. */
  readonly recoverStep: number;
  readonly recoverIntervalMs: number;
  /** Above the known-good pace the factor grows by this share per climb interval (0.05 = 5 %). */
  readonly climbStep: number;
  /** A blocked lane sends one trial message per interval. */
  readonly trialIntervalMs: number;
  /**
   * The start phase (lib/core/start.ts): a lane without history begins at this
   * share of its configured pace and multiplies it by START_GROWTH every
   * `startIntervalMs` in which it used its pace, until the first refusal or the configured pace.
   * 1 = no start phase (a lane begins at its configured pace).
   */
  readonly start: number;
  readonly startIntervalMs: number;
}

/**
 * The policy of a lane given none (tests, tools): no start phase. The shipped
 * [adapt] section (config/paceline.ini) sets one.
 */
export const DEFAULT_POLICY: LanePolicy = {
  recoverStep: 0.1,
  recoverIntervalMs: 300_000,
  climbStep: 0.05,
  trialIntervalMs: 3_600_000,
  start: 1,
  startIntervalMs: 10_000,
};

/** Limits of one lane; an absent field is unlimited. */
export interface LaneLimits {
  readonly rate?: Rate;
  /** Deliveries in flight at once. */
  readonly concurrency?: number;
  /** Messages per day (days in `[main] timezone`). */
  readonly perDay?: number;
  readonly policy?: LanePolicy;
  /** UTC offset of the zone whose days count `perDay` (ms; default 0 = UTC). */
  readonly dayOffsetMs?: number;
}

/** A concurrency lease; expires by itself so a crashed worker cannot leak it. */
export interface Lease {
  readonly id: string;
  readonly expiresAt: number;
}

/** Everything the store keeps per lane. Plain data, cloneable, JSON-safe. Times are epoch ms, 0 = none. */
export interface LaneState {
  /** GCRA theoretical arrival time of the next free slot, on the slot clock (lib/core/pace.ts); 0 when idle. */
  tat: number;
  /** The slot clock: slot time `vOrigin` at real time `vAt`; it runs at `factor` × `scale` × real time after `vAt`. */
  vAt: number;
  vOrigin: number;
  /** Slot time per real ms at factor 1: 1, until a changed rate rescales the clock (pace.ts rescaleClock). */
  scale: number;
  /** Canonical rate `tat` was computed for; a different rate rescales the slot clock (or, to or from none, starts afresh). */
  rateKey: string;
  leases: Lease[];
  /** Day number (days since epoch, UTC) that the day counters belong to. */
  day: number;
  dayCount: number;
  /** Throttle replies this day (feeds warm-up progression). */
  dayThrottles: number;
  /** The previous day with traffic and its counters. */
  prevDay: number;
  prevDayCount: number;
  prevDayThrottles: number;
  /** Moving average of delivery duration, ms; estimates when a concurrency slot frees. */
  meanDeliveryMs: number;
  /** Share of the configured pace in force (1 = full), lowered on throttling. */
  factor: number;
  /** Factor before the last reaction, restored when a provider-wide incident explains it. */
  prevFactor: number;
  pauseUntil: number;
  /** Temporary concurrency cap after "too many connections" replies. */
  connCap: number;
  connCapUntil: number;
  /** When the lane was blocked (block-listed); 0 = not blocked. */
  blockedAt: number;
  /** Next trial message of a blocked lane. */
  trialAt: number;
  /** Throttle replies before this time belong to the last reaction: one reaction per burst of replies. */
  sameEventUntil: number;
  /** Next recovery step of `factor`. */
  recoverAt: number;
  /**
   * The known-good pace: the factor a throttle reaction set from what the
   * provider had accepted (0 = none measured). Recovery is quick up to it and
   * a slow climb above it, one `climbStep` per `climbMs`.
   */
  known: number;
  /** Interval of the slow climb above `known`, set by the last reaction from the pause it cost. */
  climbMs: number;
  /** Climb steps taken since the last reaction; each step is twice the one before (up to 8 × `climbStep`). */
  climbs: number;
  /** Minute number (epoch ms / 60 000) that `acceptCount` belongs to. */
  acceptMinute: number;
  /** Deliveries the provider accepted in that minute, and in the minute before it. */
  acceptCount: number;
  acceptPrev: number;
  /** Bumped when the lane is blocked; a reservation from an older epoch books again. */
  epoch: number;
  /**
   * GCRA of departures: the next message may leave at `departAt - tolerance`.
   * Booked slots (`tat`) keep arrival order; this keeps the spacing of what
   * actually leaves, so messages that come back late for their slots (a busy
   * process, a stalled timer) leave one interval apart, not all at once.
   */
  departAt: number;
  /** Minute number (epoch ms / 60 000) that `minuteCount` belongs to, for status. */
  minute: number;
  /** Messages that left (were granted) in that minute. */
  minuteCount: number;
  /**
   * The start phase (lib/core/start.ts): 0 = the lane has not begun (a fresh
   * lane), > 0 = in its start phase, the time of the next growth step,
   * < 0 = the start phase ended at -growAt (epoch ms).
   */
  growAt: number;
  /** Deliveries accepted since the last growth step (the evidence for the next one). */
  grown: number;
  /** When the provider last accepted a delivery on this lane (0 = never). */
  acceptedAt: number;
  /** Pauses in a row extended because the provider still refused after the lane reopened. */
  backoffs: number;
}

/** Why a lane cannot send now. */
export type WaitReason = 'rate' | 'concurrency' | 'daily' | 'paused' | 'blocked' | 'store';

export type AcquireResult =
  | { readonly kind: 'granted'; readonly leaseId: string }
  /** `slot`: the booked slot on the slot clock; `at`: its real time at the pace in force now. */
  | { readonly kind: 'reserved'; readonly at: number; readonly slot: number; readonly epoch: number }
  | { readonly kind: 'wait'; readonly at: number; readonly reason: WaitReason };

export interface AcquireRequest {
  /** `now`: take a slot only if one is free now. `reserve`: else book the next rate slot. */
  readonly mode: 'now' | 'reserve';
  readonly leaseId: string;
  readonly leaseMs: number;
}

export interface ClaimRequest {
  /** The booked slot on the slot clock (AcquireResult `slot`). */
  readonly slot: number;
  readonly epoch: number;
  readonly leaseId: string;
  readonly leaseMs: number;
}

/** Default guess for a delivery's duration before any has been measured. */
export const INITIAL_DELIVERY_MS = 1000;

export function emptyLane(): LaneState {
  return {
    tat: 0,
    vAt: 0,
    vOrigin: 0,
    scale: 1,
    rateKey: '',
    leases: [],
    day: 0,
    dayCount: 0,
    dayThrottles: 0,
    prevDay: 0,
    prevDayCount: 0,
    prevDayThrottles: 0,
    meanDeliveryMs: INITIAL_DELIVERY_MS,
    factor: 1,
    prevFactor: 1,
    pauseUntil: 0,
    connCap: 0,
    connCapUntil: 0,
    blockedAt: 0,
    trialAt: 0,
    sameEventUntil: 0,
    recoverAt: 0,
    known: 0,
    climbMs: 0,
    climbs: 0,
    epoch: 0,
    departAt: 0,
    minute: 0,
    minuteCount: 0,
    acceptMinute: 0,
    acceptCount: 0,
    acceptPrev: 0,
    growAt: 0,
    grown: 0,
    acceptedAt: 0,
    backoffs: 0,
  };
}
