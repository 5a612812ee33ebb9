/**
 * The pure heart of pacing: what one lane (source × provider) may do at a
 * given instant, and how its state changes when it does it.
 *
 * Rate uses GCRA (the generic cell rate algorithm): `tat` is the theoretical
 * arrival time of the next message. A message may go at
 * `max(tat - tolerance, now)`; taking a slot moves `tat` one interval on.
 * Taking a slot in the future is a *reservation*: the message is told to come
 * back exactly then, so a backlog drains in arrival order without a herd.
 *
 * No I/O, no clock: `now` (epoch ms) is always an argument.
 */

import { formatRate, intervalMs, type Rate } from './rate';
import { dayNumber, nextDayStartMs } from './day';

/** Limits of one lane; an absent field is unlimited. */
export interface LaneLimits {
  readonly rate?: Rate;
  /** Deliveries in flight at once. */
  readonly concurrency?: number;
  /** Messages per day (UTC day). */
  readonly perDay?: number;
}

/** A concurrency lease; expires by itself so a crashed worker cannot leak it. */
export interface Lease {
  readonly id: string;
  readonly expiresAt: number;
}

/** Everything the store keeps per lane. Plain data, cloneable, JSON-safe. */
export interface LaneState {
  /** GCRA theoretical arrival time (epoch ms); 0 when idle. */
  tat: number;
  /** Canonical rate `tat` was computed for; a different rate starts afresh. */
  rateKey: string;
  leases: Lease[];
  /** Day number (days since epoch, UTC) that `dayCount` belongs to. */
  day: number;
  dayCount: number;
  /** Moving average of delivery duration, ms; estimates when a concurrency slot frees. */
  meanDeliveryMs: number;
}

/** Why a lane cannot send now. */
export type WaitReason = 'rate' | 'concurrency' | 'daily';

export type AcquireResult =
  | { readonly kind: 'granted'; readonly leaseId: string }
  | { readonly kind: 'reserved'; readonly at: number }
  | { readonly kind: 'wait'; readonly at: number; readonly reason: WaitReason };

export interface AcquireRequest {
  /** `now`: take a slot only if one is free now. `reserve`: else book the next rate slot. */
  readonly mode: 'now' | 'reserve';
  readonly leaseId: string;
  readonly leaseMs: number;
}

/** Default guess for a delivery's duration before any has been measured. */
export const INITIAL_DELIVERY_MS = 1000;

export function emptyLane(): LaneState {
  return { tat: 0, rateKey: '', leases: [], day: 0, dayCount: 0, meanDeliveryMs: INITIAL_DELIVERY_MS };
}

/** Brings a state up to `now`: drops expired leases, rolls the day, resets tat on a changed rate. */
export function normalize(state: LaneState, limits: LaneLimits, now: number): LaneState {
  const rateKey = limits.rate ? formatRate(limits.rate) : '';
  const today = dayNumber(now);
  return {
    tat: rateKey === state.rateKey ? state.tat : 0,
    rateKey,
    leases: state.leases.filter((l) => l.expiresAt > now),
    day: today,
    dayCount: state.day === today ? state.dayCount : 0,
    meanDeliveryMs: state.meanDeliveryMs,
  };
}

/** Earliest time the rate allows the next message (≥ now). */
export function rateFreeAt(state: LaneState, limits: LaneLimits, now: number): number {
  if (!limits.rate) return now;
  const tolerance = (limits.rate.burst - 1) * intervalMs(limits.rate);
  return Math.max(state.tat - tolerance, now);
}

/** Earliest time a concurrency slot frees: now, or an estimate from the measured delivery time. */
export function concurrencyFreeAt(state: LaneState, limits: LaneLimits, now: number): number {
  if (limits.concurrency === undefined || state.leases.length < limits.concurrency) return now;
  const firstExpiry = Math.min(...state.leases.map((l) => l.expiresAt));
  return Math.min(firstExpiry, now + Math.max(1000, state.meanDeliveryMs));
}

/** What stops the lane now (first binding constraint) and until when; null when it can send. */
export function blocker(state: LaneState, limits: LaneLimits, now: number): { reason: WaitReason; at: number } | null {
  if (limits.perDay !== undefined && state.dayCount >= limits.perDay) {
    return { reason: 'daily', at: nextDayStartMs(now) };
  }
  const concurrencyAt = concurrencyFreeAt(state, limits, now);
  if (concurrencyAt > now) return { reason: 'concurrency', at: concurrencyAt };
  const rateAt = rateFreeAt(state, limits, now);
  if (rateAt > now) return { reason: 'rate', at: rateAt };
  return null;
}

/** Earliest time this lane could take a message, for choosing among sources. */
export function earliestAt(state: LaneState, limits: LaneLimits, now: number): number {
  const s = normalize(state, limits, now);
  const b = blocker(s, limits, now);
  if (!b) return now;
  if (b.reason === 'daily') return b.at;
  return Math.max(b.at, rateFreeAt(s, limits, now));
}

function takeRate(state: LaneState, limits: LaneLimits, now: number): number {
  return limits.rate ? Math.max(state.tat, now) + intervalMs(limits.rate) : state.tat;
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
  const state = normalize(prior, limits, now);
  const b = blocker(state, limits, now);
  if (!b) {
    state.tat = takeRate(state, limits, now);
    state.dayCount += 1;
    state.leases.push({ id: req.leaseId, expiresAt: now + req.leaseMs });
    return { state, result: { kind: 'granted', leaseId: req.leaseId } };
  }
  if (b.reason === 'rate' && req.mode === 'reserve' && b.at < nextDayStartMs(now)) {
    state.tat = takeRate(state, limits, now);
    state.dayCount += 1;
    return { state, result: { kind: 'reserved', at: b.at } };
  }
  return { state, result: { kind: 'wait', at: b.at, reason: b.reason } };
}

/**
 * A message comes back for the rate slot it reserved: it needs only a
 * concurrency lease now (its rate slot and daily count were taken at booking).
 */
export function claim(
  prior: LaneState,
  limits: LaneLimits,
  now: number,
  req: { readonly reservedAt: number; readonly leaseId: string; readonly leaseMs: number },
): { state: LaneState; result: AcquireResult } {
  const state = normalize(prior, limits, now);
  if (req.reservedAt > now) return { state, result: { kind: 'wait', at: req.reservedAt, reason: 'rate' } };
  const at = concurrencyFreeAt(state, limits, now);
  if (at > now) return { state, result: { kind: 'wait', at, reason: 'concurrency' } };
  state.leases.push({ id: req.leaseId, expiresAt: now + req.leaseMs });
  return { state, result: { kind: 'granted', leaseId: req.leaseId } };
}

/** Weight of the newest delivery in the moving average of delivery time. */
const EWMA_WEIGHT = 0.2;

/** A delivery ended (any outcome): free its lease and learn its duration. */
export function release(prior: LaneState, leaseId: string, now: number, durationMs?: number): LaneState {
  const leases = prior.leases.filter((l) => l.id !== leaseId && l.expiresAt > now);
  const meanDeliveryMs =
    durationMs === undefined || !Number.isFinite(durationMs) || durationMs < 0
      ? prior.meanDeliveryMs
      : prior.meanDeliveryMs + EWMA_WEIGHT * (durationMs - prior.meanDeliveryMs);
  return { ...prior, leases, meanDeliveryMs };
}
