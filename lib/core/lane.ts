/**
 * The pure heart of pacing: what one lane (source × provider) may do at a
 * given instant, and how its state changes when it does it.
 *
 * Rate uses GCRA (the generic cell rate algorithm): `tat` is the theoretical
 * arrival time of the next message. A message may go at
 * `max(tat - tolerance, now)`; taking a slot moves `tat` one interval on.
 * Taking a slot in the future is a *reservation*: the message is told to come
 * back exactly then, so a backlog drains in arrival order without a herd.
 * Adaptation (lib/core/adapt.ts) scales the pace by `factor`, pauses, caps
 * connections or blocks the lane; this file applies those to every decision.
 *
 * No I/O, no clock: `now` (epoch ms) is always an argument.
 */

import { intervalMs, formatRate, keyIntervalMs, type Rate } from './rate';
import { dayNumber, nextDayStartMs } from './day';
import { countAccepted, realTime, recover, rescaleClock, slotTime } from './pace';
import { beginOrGrow, countGrowth } from './start';

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
   * share of its configured pace and doubles it every `startIntervalMs` in
   * which it used its pace, until the first refusal or the configured pace.
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

/**
 * Brings a state up to `now`: expired leases, day rollover, changed rate,
 * recovery, ended caps and pauses. `keepRate` leaves the rate state alone, for
 * steps that take no slot (release, react), whose callers may not know the
 * lane's current rate.
 */
export function normalize(state: LaneState, limits: LaneLimits, now: number, keepRate = false): LaneState {
  const s: LaneState = { ...state, leases: state.leases.filter((l) => l.expiresAt > now) };
  const rateKey = limits.rate ? formatRate(limits.rate) : '';
  if (!keepRate && rateKey !== s.rateKey) changeRate(s, limits, rateKey, now);
  const today = dayNumber(now, limits.dayOffsetMs);
  if (s.day !== today) {
    if (s.dayCount > 0 || s.dayThrottles > 0) {
      s.prevDay = s.day;
      s.prevDayCount = s.dayCount;
      s.prevDayThrottles = s.dayThrottles;
    }
    s.day = today;
    s.dayCount = 0;
    s.dayThrottles = 0;
  }
  if (s.pauseUntil !== 0 && s.pauseUntil <= now) s.pauseUntil = 0;
  if (s.connCapUntil !== 0 && s.connCapUntil <= now) {
    s.connCap = 0;
    s.connCapUntil = 0;
  }
  const policy = limits.policy ?? DEFAULT_POLICY;
  recover(s, policy, now);
  beginOrGrow(s, limits, policy, now);
  return s;
}

/**
 * GCRA tolerance at the current pace: the burst scales with the pace (a lane
 * slowed to a tenth of its rate may not fire its full configured burst), but
 * a configured burst of two or more stays at least two, so that a message
 * that left late lets the next catch up.
 */
export function toleranceMs(state: LaneState, rate: Rate): number {
  const burst = Math.max(Math.min(2, rate.burst), Math.ceil(rate.burst * state.factor));
  return (burst - 1) * paceIntervalMs(state, rate);
}

/** Interval between messages at the current pace (configured interval / factor). */
export function paceIntervalMs(state: LaneState, rate: Rate): number {
  return intervalMs(rate) / state.factor;
}

/**
 * Concurrency in force: the configured limit scaled by the pace factor, but
 * never below what the lowered pace itself needs (Little's law: deliveries
 * per ms × mean delivery time, plus one), and any temporary cap.
 */
export function concurrencyLimit(state: LaneState, limits: LaneLimits): number {
  const configured = limits.concurrency;
  if (configured === undefined) return state.connCap > 0 ? state.connCap : Infinity;
  let limit = Math.max(1, Math.floor(configured * state.factor));
  if (limits.rate && state.factor < 1) {
    const needed = Math.ceil(state.meanDeliveryMs / paceIntervalMs(state, limits.rate)) + 1;
    limit = Math.min(configured, Math.max(limit, needed));
  }
  if (state.connCap > 0) limit = Math.min(limit, state.connCap);
  return limit;
}

/** The burst tolerance on the slot clock (configured intervals, which the clock scales). */
export function slotTolerance(state: LaneState, rate: Rate): number {
  return toleranceMs(state, rate) * state.factor * state.scale;
}

/**
 * A different configured rate: booked slots keep their place on the slot
 * clock, rescaled to the new interval (a raise speeds up what was booked at
 * the old rate, a cut slows it). To or from no rate, the lane starts afresh.
 */
function changeRate(s: LaneState, limits: LaneLimits, rateKey: string, now: number): void {
  const oldMs = keyIntervalMs(s.rateKey);
  if (limits.rate && oldMs !== undefined && s.tat !== 0) rescaleClock(s, now, oldMs, intervalMs(limits.rate));
  else s.tat = 0;
  s.departAt = 0;
  s.rateKey = rateKey;
}

/** The slot the next booking gets, on the slot clock. */
function nextSlot(state: LaneState, rate: Rate, now: number): number {
  return Math.max(state.tat - slotTolerance(state, rate), slotTime(state, now));
}

/** Earliest time the rate allows the next message (≥ now). */
export function rateFreeAt(state: LaneState, limits: LaneLimits, now: number): number {
  if (!limits.rate) return now;
  return Math.max(realTime(state, nextSlot(state, limits.rate, now)), now);
}

/** Real time of the lane's next free rate slot (its booking horizon), 0 when idle. */
export function nextFreeAt(state: LaneState): number {
  return state.tat === 0 ? 0 : realTime(state, state.tat);
}

/** Earliest time the departure spacing lets the next message leave (≥ now). */
export function departFreeAt(state: LaneState, limits: LaneLimits, now: number): number {
  if (!limits.rate) return now;
  return Math.max(state.departAt - toleranceMs(state, limits.rate), now);
}

/** Earliest time a concurrency slot frees: now, or an estimate from the measured delivery time. */
export function concurrencyFreeAt(state: LaneState, limits: LaneLimits, now: number): number {
  if (state.leases.length < concurrencyLimit(state, limits)) return now;
  const firstExpiry = Math.min(...state.leases.map((l) => l.expiresAt));
  return Math.min(firstExpiry, now + Math.max(1000, state.meanDeliveryMs));
}

/** What stops the lane now (first binding constraint) and until when; null when it can send. */
export function blocker(state: LaneState, limits: LaneLimits, now: number): { reason: WaitReason; at: number } | null {
  if (limits.perDay !== undefined && state.dayCount >= limits.perDay)
    return { reason: 'daily', at: nextDayStartMs(now, limits.dayOffsetMs) };
  if (state.blockedAt !== 0) {
    if (state.trialAt > now) return { reason: 'blocked', at: state.trialAt };
    if (state.leases.length > 0) return { reason: 'blocked', at: concurrencyFreeAt(state, { concurrency: 1 }, now) };
    return null;
  }
  if (state.pauseUntil > now) return { reason: 'paused', at: state.pauseUntil };
  // the later of the two binds: a lane whose next rate slot is further away than
  // a free concurrency slot books that rate slot instead of polling every second
  const concurrencyAt = concurrencyFreeAt(state, limits, now);
  const rateAt = Math.max(rateFreeAt(state, limits, now), departFreeAt(state, limits, now));
  if (rateAt > now && rateAt >= concurrencyAt) return { reason: 'rate', at: rateAt };
  if (concurrencyAt > now) return { reason: 'concurrency', at: concurrencyAt };
  return null;
}

/** Earliest time this lane could take a message, for choosing among sources. */
export function earliestAt(state: LaneState, limits: LaneLimits, now: number): number {
  const s = normalize(state, limits, now);
  const b = blocker(s, limits, now);
  if (!b) return now;
  if (b.reason !== 'concurrency') return b.at;
  return Math.max(b.at, rateFreeAt(s, limits, now));
}

/** Takes the next rate slot; returns it (on the slot clock). A rebooking message was counted for the day already. */
function takeSlot(state: LaneState, limits: LaneLimits, now: number, countDay = true): number {
  let slot = 0;
  if (limits.rate) {
    slot = nextSlot(state, limits.rate, now);
    state.tat = Math.max(state.tat, slotTime(state, now)) + intervalMs(limits.rate) * state.scale;
  }
  if (countDay) state.dayCount += 1;
  if (state.blockedAt !== 0) state.trialAt = now + (limits.policy ?? DEFAULT_POLICY).trialIntervalMs;
  return slot;
}

/** A message leaves now: space the next departure, count it per minute for `paceline status`. */
function countLeaving(state: LaneState, limits: LaneLimits, now: number): void {
  if (limits.rate) state.departAt = Math.max(state.departAt, now) + paceIntervalMs(state, limits.rate);
  const minute = Math.floor(now / 60_000);
  state.minuteCount = state.minute === minute ? state.minuteCount + 1 : 1;
  state.minute = minute;
}

/**
 * Try to take a slot on the lane. Grants (with a lease) when everything is
 * free now; in `reserve` mode books the next rate slot when only the rate
 * binds and that slot falls on the same day; otherwise says how long to wait.
 */
export function acquire(
  prior: LaneState,
  limits: LaneLimits,
  now: number,
  req: AcquireRequest,
): { state: LaneState; result: AcquireResult } {
  return take(normalize(prior, limits, now), limits, now, req, true);
}

/** acquire() on a normalized state; `countDay` false for a message that books again. */
function take(
  state: LaneState,
  limits: LaneLimits,
  now: number,
  req: AcquireRequest,
  countDay: boolean,
): { state: LaneState; result: AcquireResult } {
  const b = blocker(state, limits, now);
  if (!b) {
    takeSlot(state, limits, now, countDay);
    countLeaving(state, limits, now);
    state.leases.push({ id: req.leaseId, expiresAt: now + req.leaseMs });
    return { state, result: { kind: 'granted', leaseId: req.leaseId } };
  }
  if (b.reason === 'rate' && req.mode === 'reserve' && b.at < nextDayStartMs(now, limits.dayOffsetMs)) {
    const slot = takeSlot(state, limits, now, countDay);
    return { state, result: { kind: 'reserved', at: b.at, slot, epoch: state.epoch } };
  }
  return { state, result: { kind: 'wait', at: b.at, reason: b.reason } };
}

/**
 * A message comes back for the rate slot it reserved: it needs only a
 * concurrency lease now (its rate slot and daily count were taken at
 * booking). The slot's real time follows the pace in force (slot clock). A
 * booking from before a block books again; so does a message far behind its
 * slot (a stalled process, a restart) that finds the lane busy, in the order
 * it came back, rather than crowding every next departure.
 */
export function claim(
  prior: LaneState,
  limits: LaneLimits,
  now: number,
  req: ClaimRequest,
): { state: LaneState; result: AcquireResult } {
  const state = normalize(prior, limits, now);
  const rebook = { mode: 'reserve', leaseId: req.leaseId, leaseMs: req.leaseMs } as const;
  if (req.epoch !== state.epoch) return take(state, limits, now, rebook, false);
  const due = limits.rate ? realTime(state, req.slot) : now;
  if (due > now) return { state, result: { kind: 'wait', at: due, reason: 'rate' } };
  if (state.pauseUntil > now) return { state, result: { kind: 'wait', at: state.pauseUntil, reason: 'paused' } };
  const late = now - due > LATE_MS;
  const at = concurrencyFreeAt(state, limits, now);
  if (at > now)
    return late
      ? take(state, limits, now, rebook, false)
      : { state, result: { kind: 'wait', at, reason: 'concurrency' } };
  const departAt = departFreeAt(state, limits, now);
  if (departAt > now)
    return late
      ? take(state, limits, now, rebook, false)
      : { state, result: { kind: 'wait', at: departAt, reason: 'rate' } };
  countLeaving(state, limits, now);
  state.leases.push({ id: req.leaseId, expiresAt: now + req.leaseMs });
  return { state, result: { kind: 'granted', leaseId: req.leaseId } };
}

/** A booked message coming back more than this late for its slot books again. */
export const LATE_MS = 30_000;

/** Weight of the newest delivery in the moving average of delivery time. */
export const EWMA_WEIGHT = 0.2;

/**
 * A delivery ended: free its lease and learn its duration. A delivered trial
 * unblocks a blocked lane, which then climbs back from its lowered pace.
 */
export function release(
  prior: LaneState,
  limits: LaneLimits,
  now: number,
  leaseId: string,
  delivered: boolean,
  durationMs?: number,
): LaneState {
  const s = normalize(prior, limits, now, true);
  s.leases = s.leases.filter((l) => l.id !== leaseId);
  if (durationMs !== undefined && Number.isFinite(durationMs) && durationMs >= 0) {
    s.meanDeliveryMs += EWMA_WEIGHT * (durationMs - s.meanDeliveryMs);
  }
  if (delivered) {
    countAccepted(s, now);
    countGrowth(s);
    s.acceptedAt = now;
  }
  if (delivered && s.blockedAt !== 0) {
    s.blockedAt = 0;
    s.trialAt = 0;
    s.recoverAt = now + (limits.policy ?? DEFAULT_POLICY).recoverIntervalMs;
  }
  return s;
}
