/**
 * The pace of a lane: how fast it may go (`factor` × the configured rate),
 * how that pace climbs back after a reaction, what the provider accepted,
 * and the slot clock that keeps booked slots valid when the pace changes.
 *
 * The slot clock. Booked slots are points on a *slot clock* that runs at
 * `factor` × real time (one configured interval of slot time per message)
 * and stands still while the lane is paused. A booking keeps its place on
 * that clock; its real time follows the pace: when the lane slows down or
 * pauses, every booked slot moves later in order, when it recovers they all
 * move earlier. Nothing is voided and rebooked, and a backlog booked at a
 * slow pace uses a recovered pace at once. The same holds for the configured
 * rate: `scale` (slot time per real ms at factor 1, 1 until the rate first
 * changes) makes a raised rate speed up what was booked at the old one.
 * `vOrigin` (slot time at real time `vAt`) anchors the clock; a lane never
 * slowed or re-rated has slot time = real time.
 *
 * Pure: times are arguments, epoch ms.
 */

import type { LanePolicy, LaneState } from './lane-state';

/** A climb step doubles after each clean one, at most this many times. */
export const MAX_CLIMB_DOUBLINGS = 3;

/** Slot time at real time `t` (the clock stands still until `vAt`, the end of a pause). */
export function slotTime(s: LaneState, t: number): number {
  return t <= s.vAt ? s.vOrigin : s.vOrigin + (t - s.vAt) * s.factor * s.scale;
}

/** Real time of slot time `v` at the current pace (never before the clock runs again). */
export function realTime(s: LaneState, v: number): number {
  return v <= s.vOrigin ? s.vAt : s.vAt + (v - s.vOrigin) / s.factor / s.scale;
}

/** Re-anchors the slot clock at real time `t` (before a change of factor or pause). */
function anchor(s: LaneState, t: number): void {
  s.vOrigin = slotTime(s, t);
  s.vAt = t;
}

/** Changes the pace factor from real time `t` on; booked slots keep their place on the slot clock. */
export function setFactor(s: LaneState, t: number, factor: number): void {
  if (factor === s.factor) return;
  anchor(s, Math.max(t, s.vAt));
  s.factor = factor;
}

/**
 * A new configured rate from real time `t` on: the clock's `scale` changes by
 * old interval / new interval, so that each booked slot stays as many
 * intervals away as it was, now counted at the new rate: a raised rate moves
 * every booking earlier, a lowered one later, in order.
 */
export function rescaleClock(s: LaneState, t: number, oldIntervalMs: number, newIntervalMs: number): void {
  anchor(s, Math.max(t, s.vAt));
  s.scale = (s.scale * oldIntervalMs) / newIntervalMs;
}

/** Stops the slot clock from now until `until` (a pause); it resumes where it stood. */
export function pauseClock(s: LaneState, now: number, until: number): void {
  anchor(s, Math.max(now, Math.min(s.vAt, until)));
  s.vAt = Math.max(s.vAt, until);
}

/** Restarts a stopped slot clock at `now` (a pause lifted early). */
export function resumeClock(s: LaneState, now: number): void {
  if (s.vAt > now) s.vAt = now;
}

/**
 * Recovery, one step per clean interval since `recoverAt`: additive
 * (`recoverStep`) while below the known-good pace (or when none is known),
 * then a climb above it, `climbStep` per `climbMs`, each step twice the one
 * before (a limit that grew is found in a few steps). At the configured pace
 * (factor 1) the lane forgets what it learnt.
 */
export function recover(s: LaneState, policy: LanePolicy, now: number): void {
  if (s.recoverAt === 0 || s.blockedAt !== 0) return;
  while (s.factor < 1 && now >= s.recoverAt) {
    const at = s.recoverAt;
    if (s.known === 0 || s.factor < s.known) {
      setFactor(
        s,
        at,
        Math.min(1, s.known === 0 ? s.factor + policy.recoverStep : Math.min(s.known, s.factor + policy.recoverStep)),
      );
      s.recoverAt += policy.recoverIntervalMs;
    } else {
      setFactor(s, at, Math.min(1, s.factor * (1 + policy.climbStep * 2 ** Math.min(s.climbs, MAX_CLIMB_DOUBLINGS))));
      s.climbs += 1;
      s.recoverAt += Math.max(policy.recoverIntervalMs, s.climbMs);
    }
  }
  if (s.factor >= 1) {
    s.recoverAt = 0;
    s.known = 0;
  }
}

/** Deliveries the provider accepted from the lane in the last minute (two one-minute buckets, the older weighted by overlap). */
export function acceptedLastMinute(s: LaneState, now: number): number {
  const minute = Math.floor(now / 60_000);
  const rest = 1 - (now % 60_000) / 60_000;
  if (s.acceptMinute === minute) return s.acceptCount + s.acceptPrev * rest;
  if (s.acceptMinute === minute - 1) return s.acceptCount * rest;
  return 0;
}

/** Counts one delivery the provider accepted. */
export function countAccepted(s: LaneState, now: number): void {
  const minute = Math.floor(now / 60_000);
  if (s.acceptMinute !== minute) {
    s.acceptPrev = s.acceptMinute === minute - 1 ? s.acceptCount : 0;
    s.acceptCount = 0;
    s.acceptMinute = minute;
  }
  s.acceptCount += 1;
}
