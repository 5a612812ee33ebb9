/**
 * The start phase of a lane: how a lane without history finds its pace.
 *
 * A provider's limits for a source are hidden, and a new lane knows nothing
 * of them. Sending at the configured pace from the first second fires a burst
 * far above the limits of a new or modest IP (Microsoft 365 allows a couple
 * of sessions and about a message a second to such an IP), and the refusals
 * it earns say little about the limit. As TCP's slow start does, a fresh lane
 * begins at `policy.start` × its configured pace and doubles the pace after
 * every `policy.startIntervalMs` in which it actually used it (at least
 * GROWTH_EVIDENCE of what the pace allowed was accepted): a pace the lane never
 * filled is no evidence that a faster one is welcome. The phase ends at the
 * configured pace, or at the first refusal, which (lib/core/adapt.ts) takes
 * the lane back to the pace before the last doubling: the fastest pace that
 * ran clean for a whole interval.
 *
 * Pure: times are arguments, epoch ms.
 */

import type { LaneLimits, LanePolicy, LaneState } from './lane';
import { intervalMs } from './rate';
import { setFactor } from './pace';

/** Share of what the pace allowed in a growth interval that must have been accepted for the pace to double. */
export const GROWTH_EVIDENCE = 0.4;

/** growAt value of a lane whose start phase is over. */
export const START_OVER = -1;

/** A lane that has never begun: no start phase yet, nothing learnt, never reacted to. */
function fresh(s: LaneState): boolean {
  return s.growAt === 0 && s.known === 0 && s.recoverAt === 0 && s.blockedAt === 0 && s.holdUntil === 0 && s.factor === 1;
}

/** Deliveries that must have been accepted in one growth interval for the pace to double. */
export function growthNeeded(s: LaneState, limits: LaneLimits, policy: LanePolicy): number {
  if (!limits.rate) return 1;
  const allowed = (policy.startIntervalMs * s.factor) / intervalMs(limits.rate);
  return Math.max(1, Math.floor(GROWTH_EVIDENCE * allowed));
}

/** Begins the start phase of a fresh lane, or takes its due growth step (one per interval). */
export function beginOrGrow(s: LaneState, limits: LaneLimits, policy: LanePolicy, now: number): void {
  if (policy.start >= 1) return;
  if (fresh(s)) {
    setFactor(s, now, policy.start);
    s.growAt = now + policy.startIntervalMs;
    s.grown = 0;
    return;
  }
  if (s.growAt <= 0 || now < s.growAt) return;
  if (s.grown >= growthNeeded(s, limits, policy)) setFactor(s, s.growAt, Math.min(1, s.factor * 2));
  s.grown = 0;
  s.growAt = s.factor >= 1 ? START_OVER : now + policy.startIntervalMs;
}

/** A delivery was accepted: evidence for the next growth step while the start phase runs. */
export function countGrowth(s: LaneState): void {
  if (s.growAt > 0) s.grown += 1;
}

/** Ends the start phase at a refusal; returns the pace to fall back to (the one before the last doubling). */
export function endStart(s: LaneState): number {
  s.growAt = START_OVER;
  s.grown = 0;
  return s.factor / 2;
}

/** Whether the lane is in its start phase. */
export function starting(s: LaneState): boolean {
  return s.growAt > 0;
}
