/**
 * Turns: when a message comes back to a lane that is full on concurrency.
 *
 * A full lane frees a slot when one of its deliveries ends. Told to come
 * back after the mean delivery time, every waiting message would return in
 * the same second (all of them, after a restart), find at most one free slot
 * and leave the others idle until the next whole-second retry. Instead each
 * waiting message gets a *turn*: the first at the moment the soonest lease is
 * expected to end (its start plus the lane's mean delivery time), each next
 * one a slot's share of the mean delivery time later (mean ÷ slots, the pace
 * at which a full lane frees slots). A message that comes back on its turn
 * and still finds the lane full (that delivery runs longer than the mean)
 * tries again shortly, keeping its place; one that comes back long after its
 * turn queues again.
 *
 * No I/O, no clock: `now` (epoch ms) is always an argument.
 */

import { concurrencyLimit, type LaneLimits, type LaneState } from './lane';

/** A waiting message's turn on a lane (epoch ms). */
export interface Turn {
  /** When it comes back: its turn, or a retry soon after it. */
  readonly at: number;
  /** The turn it was given (its place in the lane's queue). */
  readonly due: number;
}

/** Turns are never booked sooner than this from now, ms (a decision and a store call take time). */
export const TURN_MIN_MS = 50;

/**
 * Time between turns on a full lane, ms: the mean delivery time shared by the
 * lane's slots in force (a full lane of C slots frees one every mean ÷ C).
 */
export function turnSpacingMs(state: LaneState, limits: LaneLimits): number {
  const slots = concurrencyLimit(state, limits);
  return Number.isFinite(slots) && slots > 0 ? state.meanDeliveryMs / slots : state.meanDeliveryMs;
}

/**
 * How long a message whose turn has come, and which still finds the lane
 * full, waits before it tries again, ms: a quarter of the turn spacing,
 * between 50 ms and 500 ms (the share of a slot left idle by a late retry
 * stays small whatever the delivery time).
 */
export function turnRetryMs(spacingMs: number): number {
  return Math.min(500, Math.max(TURN_MIN_MS, spacingMs / 4));
}

/**
 * When the soonest delivery in flight is expected to end (epoch ms, ≥ now +
 * TURN_MIN_MS): a lease started `leaseTtlMs` before its expiry (a renewed one
 * later; it is then long overdue), and a delivery takes the lane's mean
 * delivery time. A lane fuller than the leases seen (taken since `state` was
 * read) has a delivery that has just begun. `freeAt`: the store's own
 * estimate, used when sooner (a lease about to expire).
 */
export function soonestEndAt(
  state: LaneState,
  limits: LaneLimits,
  leaseTtlMs: number,
  now: number,
  freeAt = Infinity,
): number {
  const live = state.leases.filter((l) => l.expiresAt > now);
  const ends = live.map((l) => l.expiresAt - leaseTtlMs + state.meanDeliveryMs);
  if (live.length < concurrencyLimit(state, limits)) ends.push(now + state.meanDeliveryMs);
  return Math.max(now + TURN_MIN_MS, Math.min(freeAt, ...ends));
}

/**
 * How long after its turn a message still keeps its place, ms: a delivery
 * time, and at least 3 s (a message Haraka retries after a whole-second DELAY
 * comes back up to two seconds late).
 */
export function turnLateMs(state: LaneState): number {
  return Math.max(3000, state.meanDeliveryMs);
}

/**
 * The turn of a message refused a concurrency slot. `prior`: its turn on this
 * lane, if it has one; `queueAt`: when the lane's next turn falls (after the
 * last one booked; 0 = none); `soonest`: soonestEndAt(). Returns the turn and
 * the lane's next `queueAt` (unchanged unless a turn was booked).
 */
export function nextTurn(
  prior: Turn | undefined,
  queueAt: number,
  soonest: number,
  spacingMs: number,
  lateMs: number,
  now: number,
): { turn: Turn; queueAt: number } {
  // back before its turn (a far turn's midway return): the same turn
  if (prior && prior.at > now) return { turn: prior, queueAt };
  // its turn came and the lane is still full (a delivery longer than the mean): again soon, ahead of the queue
  if (prior && now - prior.due <= lateMs)
    return { turn: { at: now + turnRetryMs(spacingMs), due: prior.due }, queueAt };
  const at = Math.max(queueAt, soonest);
  return { turn: { at, due: at }, queueAt: at + spacingMs };
}
