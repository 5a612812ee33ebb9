/**
 * Turns: when a message comes back to a lane that is full on concurrency.
 *
 * A full lane frees a slot when one of its deliveries ends. Told to come
 * back after the mean delivery time, every waiting message would return in
 * the same second (all of them, after a restart), find at most one free slot
 * and leave the others idle until the next whole-second retry. Instead each
 * waiting message gets a *turn* on one slot, like a booked rate slot: the
 * slot expected to free first (its lease's start plus the lane's mean
 * delivery time), which then frees one mean delivery time later for the next
 * turn booked on it. C slots give C turns per delivery time, at the moments
 * they are expected to free. A message that comes back on its turn and still
 * finds the lane full (that delivery runs longer than the mean) tries again
 * shortly, keeping its place; one that comes back long after its turn (30 s)
 * queues again.
 *
 * No I/O, no clock: `now` (epoch ms) is always an argument.
 */

import { LATE_MS } from './lane';
import type { LaneLimits, LaneState } from './lane-state';
import { concurrencyLimit } from './throttle';

/** A waiting message's turn on a lane (epoch ms). */
export interface Turn {
  /** When it comes back: its turn, or a retry soon after it. */
  readonly at: number;
  /** The turn it was given (its place in the lane's queue). */
  readonly due: number;
}

/** Slots a lane's turns are spread over at most (a lane with more frees one about every mean ÷ that). */
const MAX_SLOTS = 1000;

/** Turns are never booked sooner than this from now, ms (a decision and a store call take time). */
export const TURN_MIN_MS = 50;

/**
 * A message back less than this before its turn is on its turn, ms. The
 * timer that held it for its turn may fire a little early: Node counts whole
 * milliseconds from the event loop's cached time, and a turn (a lease's start
 * plus a mean delivery time) falls between milliseconds. Held again for the
 * rest (a fraction of a millisecond), it would spend one of its few in-process
 * holds (lib/haraka/glue.ts MAX_HOLDS) on nothing and meet its slot's end with
 * none left: handed to Haraka's whole-second DELAY, it would leave 1-2 s late.
 */
export const ON_TURN_MS = TURN_MIN_MS;

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
 * full, waits before it tries again, ms: the turn spacing (a full lane frees
 * a slot about that often), between 50 ms and 1 s. In the process whose
 * delivery ends, the held message is woken at once (lib/haraka/held-turns.ts);
 * the retry is for slots freed by other processes, and it must not spend the
 * few in-process holds a message has before Haraka's whole-second DELAY.
 */
export function turnRetryMs(spacingMs: number): number {
  return Math.min(1000, Math.max(TURN_MIN_MS, spacingMs));
}

/**
 * When each slot of a full lane is expected to free (epoch ms, ascending, one
 * per slot in force, each ≥ now + TURN_MIN_MS): a lease started `leaseTtlMs`
 * before its expiry (a renewed one later; it is then long overdue) and a
 * delivery takes the lane's mean delivery time. Slots beyond the leases seen
 * (taken since `state` was read) have a delivery that has just begun.
 * `freeAt`: the store's own estimate of the first, used when sooner (a lease
 * about to expire).
 */
export function slotEnds(
  state: LaneState,
  limits: LaneLimits,
  leaseTtlMs: number,
  now: number,
  freeAt = Infinity,
): number[] {
  const slots = Math.max(1, Math.min(concurrencyLimit(state, limits), MAX_SLOTS));
  const live = state.leases.filter((l) => l.expiresAt > now);
  const ends = live.map((l) => l.expiresAt - leaseTtlMs + state.meanDeliveryMs).sort((a, b) => a - b);
  while (ends.length < slots) ends.push(now + state.meanDeliveryMs);
  ends.length = slots;
  ends[0] = Math.min(ends[0] as number, freeAt);
  return ends.map((at) => Math.max(now + TURN_MIN_MS, at)).sort((a, b) => a - b);
}

/**
 * How long after its turn a message still keeps its place, ms: as long as a
 * booked rate slot (LATE_MS, 30 s), or a delivery time if longer. Behind its
 * turn it is ahead of every message booked after it; sent to the back of the
 * queue, it would wait for the turns of messages that may already have gone.
 */
export function turnLateMs(state: LaneState): number {
  return Math.max(LATE_MS, state.meanDeliveryMs);
}

/**
 * The turn of a message refused a concurrency slot. `prior`: its turn on this
 * lane, if it has one; `queue`: when each slot of the lane frees after the
 * turns booked on it (ascending; empty = none booked); `ends`: slotEnds().
 * A new turn goes to the slot that frees first, which then frees a delivery
 * later: slots that free together (after a restart) give their turns together,
 * so the messages are there when the slots free. Returns the turn and the
 * lane's queue (unchanged unless a turn was booked).
 */
export function nextTurn(
  prior: Turn | undefined,
  queue: readonly number[],
  ends: readonly number[],
  state: LaneState,
  limits: LaneLimits,
  now: number,
): { turn: Turn; queue: readonly number[] } {
  // back before its turn (a far turn's midway return): the same turn
  if (prior && prior.at - now > ON_TURN_MS) return { turn: prior, queue };
  // its turn came and the lane is still full, ahead of the queue: again a retry after the soonest lease should
  // end (that delivery began after the turn was booked), or a retry from now when it is overdue (it runs longer
  // than the mean). Not at the estimate itself: a delivery runs longer than the mean about half the time, and
  // each return to a still-full lane spends one of the message's few holds; the end of a delivery of this
  // process wakes it sooner (lib/haraka/held-turns.ts), the retry is for a slot another process frees.
  if (prior && now - prior.due <= turnLateMs(state)) {
    const soonest = ends[0] ?? now;
    const at = (soonest > now + TURN_MIN_MS ? soonest : now) + turnRetryMs(turnSpacingMs(state, limits));
    return { turn: { at, due: prior.due }, queue };
  }
  // each slot frees after its lease and after the turns booked on it (a changed limit starts afresh)
  const sorted = [...queue].sort((a, b) => a - b);
  const q = ends.map((end, i) => (sorted.length === ends.length ? Math.max(end, sorted[i] as number) : end));
  const at = Math.min(...q);
  q[q.indexOf(at)] = at + state.meanDeliveryMs;
  return { turn: { at, due: at }, queue: q.sort((a, b) => a - b) };
}
