/**
 * Source ranking: which of a pool's lanes a message should take. Pure: lane
 * states, their limits and a clock in, an order out.
 */

import { dayNumber } from './day';
import type { LaneLimits, LaneState } from './lane-state';
import { nextFreeAt } from './throttle';
import { earliestAt } from './lane';

/** What ranking needs to know of one candidate lane. */
export interface RankedLane {
  readonly state: LaneState;
  readonly limits: LaneLimits;
  /** The lane's source is warming up (its day's budget is lost if unused). */
  readonly warming: boolean;
}

/** Share of the day's volume a lane has left (1 without a daily limit). */
export function remainingShare(state: LaneState, limits: LaneLimits, now: number): number {
  if (limits.perDay === undefined) return 1;
  const used = state.day === dayNumber(now, limits.dayOffsetMs) ? state.dayCount : 0;
  return Math.max(0, 1 - used / limits.perDay);
}

/**
 * Candidates soonest-free first (`at`: when each is free). Among equals a
 * warming source comes first (its day's budget is lost if unused, and its
 * schedule advances only with use); then the largest share of its daily
 * volume left, the most headroom (oldest rate slot), the least busy, and
 * round robin from `turn` (the caller's counter, one step per decision).
 */
export function rank<T>(
  candidates: readonly T[],
  lane: (c: T) => RankedLane,
  now: number,
  turn: number,
): Array<{ c: T; at: number }> {
  const n = Math.max(1, candidates.length);
  const start = turn % n;
  const scored = candidates.map((c, i) => {
    const { state, limits, warming } = lane(c);
    return {
      c,
      at: earliestAt(state, limits, now),
      warm: warming ? 0 : 1,
      left: remainingShare(state, limits, now),
      tat: nextFreeAt(state),
      busy: state.leases.length,
      rotation: (i - start + n) % n,
    };
  });
  scored.sort(
    (a, b) =>
      a.at - b.at || a.warm - b.warm || b.left - a.left || a.tat - b.tat || a.busy - b.busy || a.rotation - b.rotation,
  );
  return scored.map(({ c, at }) => ({ c, at }));
}
