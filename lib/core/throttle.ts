/**
 * The throttle of a lane: when the next message may go, and taking a slot.
 *
 * Rate uses GCRA (the generic cell rate algorithm): `tat` is the theoretical
 * arrival time of the next message. A message may go at
 * `max(tat - tolerance, now)`; taking a slot moves `tat` one interval on.
 * Taking a slot in the future is a *reservation*: the message is told to come
 * back exactly then, so a backlog drains in arrival order without a herd.
 * Adaptation (lib/core/adapt.ts) scales the pace by `factor`, pauses, caps
 * connections or blocks the lane; blocker() applies those to every decision.
 * The leases that use the slots are lib/core/lane.ts (as KumoMTA keeps
 * throttles apart from leases). Mirrored by lib/store/lua/includes/throttle.lua.
 *
 * No I/O, no clock: `now` (epoch ms) is always an argument.
 */

import { intervalMs, keyIntervalMs, type Rate } from './rate';
import { nextDayStartMs } from './day';
import { realTime, rescaleClock, slotTime } from './pace';
import { DEFAULT_POLICY, type LaneLimits, type LaneState, type WaitReason } from './lane-state';

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
export function changeRate(s: LaneState, limits: LaneLimits, rateKey: string, now: number): void {
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

/**
 * Earliest time the rate allows the next message (≥ now). Now itself when the
 * booked slots do not bind: now's slot time mapped back to real time can land
 * a rounding error after now (a pace factor such as 0.15000000000000002), and
 * a wait of a microsecond is a DELAY of a second.
 */
export function rateFreeAt(state: LaneState, limits: LaneLimits, now: number): number {
  if (!limits.rate) return now;
  const bound = state.tat - slotTolerance(state, limits.rate);
  return bound <= slotTime(state, now) ? now : Math.max(realTime(state, bound), now);
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

/** Takes the next rate slot; returns it (on the slot clock). A rebooking message was counted for the day already. */
export function takeSlot(state: LaneState, limits: LaneLimits, now: number, countDay = true): number {
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
export function countLeaving(state: LaneState, limits: LaneLimits, now: number): void {
  if (limits.rate) state.departAt = Math.max(state.departAt, now) + paceIntervalMs(state, limits.rate);
  const minute = Math.floor(now / 60_000);
  state.minuteCount = state.minute === minute ? state.minuteCount + 1 : 1;
  state.minute = minute;
}
