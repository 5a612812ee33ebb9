/**
 * The start phase of a lane: how a lane without history finds its pace.
 *
 * A provider's limits for a source are hidden, and a new lane knows nothing
 * of them. Sending at the configured pace from the first second fires a burst
 * far above the limits of a new or modest IP (Microsoft 365 allows a couple
 * of sessions and about a message a second to such an IP), and the refusals
 * it earns say little about the limit. As TCP's slow start does, a fresh lane
 * begins at `policy.start` × its configured pace and multiplies it by
 * START_GROWTH after every `policy.startIntervalMs` in which it actually used it (at least
 * GROWTH_EVIDENCE of what the pace allowed was accepted): a pace the lane never
 * filled is no evidence that a faster one is welcome. The phase ends at the
 * configured pace, or at the first refusal, which (lib/core/adapt.ts) takes
 * the lane back to the pace before the last growth step: the fastest pace that
 * ran clean for a whole interval.
 *
 * Pure: times are arguments, epoch ms.
 */

import type { LaneLimits, LanePolicy, LaneState } from './lane-state';
import { intervalMs } from './rate';
import { realTime, setFactor } from './pace';

/** Share of what the pace allowed in a growth interval that must have been accepted for the pace to grow. */
export const GROWTH_EVIDENCE = 0.4;

/**
 * What a growth step multiplies the pace by. Doubling (TCP's choice) overshot
 * by up to twice the limit, and the fallback to the pace before the last step
 * then lay up to half below it: with 1.5 a lane that starts at a tenth reaches
 * its configured pace in six intervals rather than four, and the pace it falls
 * back to is within a third of the limit (over the family of scenarios of
 * sim/family.ts, seeds 1–30: 27 rather than 23 at 80 % of the oracle within
 * 10 minutes; docs/benchmarks.md).
 */
export const START_GROWTH = 1.5;

/** growAt of a lane whose start phase ended at `at`: negative, so that the lane remembers when. */
function over(at: number): number {
  return -at;
}

/** When the lane's start phase ended (epoch ms), 0 while it has not. */
export function startEndedAt(s: LaneState): number {
  return s.growAt < 0 ? -s.growAt : 0;
}

/**
 * A lane without history: no start phase yet, no traffic today or before,
 * nothing learnt, never reacted to. A lane that has sent at its configured
 * pace (a policy without a start phase, or state from before one existed)
 * never enters it later.
 */
function fresh(s: LaneState): boolean {
  const traffic = s.dayCount > 0 || s.prevDay !== 0 || s.acceptedAt !== 0 || s.leases.length > 0;
  return (
    s.growAt === 0 &&
    !traffic &&
    s.known === 0 &&
    s.recoverAt === 0 &&
    s.blockedAt === 0 &&
    s.sameEventUntil === 0 &&
    s.factor === 1
  );
}

/**
 * Deliveries that must have been accepted in one growth interval for the pace
 * to grow. A pace that allows less than one message in an evidence's worth
 * of the interval (a warm-up cap spread through the day) needs none while the
 * lane has mail booked ahead: its pace, not its demand, holds it back.
 */
export function growthNeeded(s: LaneState, limits: LaneLimits, policy: LanePolicy, now: number): number {
  if (!limits.rate) return 1;
  const needed = Math.floor((GROWTH_EVIDENCE * policy.startIntervalMs * s.factor) / intervalMs(limits.rate));
  return needed === 0 && realTime(s, s.tat) > now ? 0 : Math.max(1, needed);
}

/**
 * The share of its configured pace a fresh lane begins at: `policy.start`,
 * but never slower than one message per start interval (a slow configured
 * pace, such as a warm-up cap spread through the day, is already careful),
 * and 1 for a lane with neither a rate nor a concurrency limit.
 */
export function startShare(limits: LaneLimits, policy: LanePolicy): number {
  if (limits.rate) return Math.min(1, Math.max(policy.start, intervalMs(limits.rate) / policy.startIntervalMs));
  return limits.concurrency === undefined ? 1 : policy.start;
}

/** Begins the start phase of a fresh lane, or takes its due growth step (one per interval). */
export function beginOrGrow(s: LaneState, limits: LaneLimits, policy: LanePolicy, now: number): void {
  if (policy.start >= 1) return;
  if (fresh(s)) {
    const begin = startShare(limits, policy);
    if (begin >= 1) {
      s.growAt = over(now);
      return;
    }
    setFactor(s, now, begin);
    s.growAt = now + policy.startIntervalMs;
    s.grown = 0;
    return;
  }
  if (s.growAt <= 0 || now < s.growAt) return;
  if (s.grown >= growthNeeded(s, limits, policy, now)) setFactor(s, s.growAt, Math.min(1, s.factor * START_GROWTH));
  s.grown = 0;
  s.growAt = s.factor >= 1 ? over(now) : now + policy.startIntervalMs;
}

/** A delivery was accepted: evidence for the next growth step while the start phase runs. */
export function countGrowth(s: LaneState): void {
  if (s.growAt > 0) s.grown += 1;
}

/** Ends the start phase at a refusal; returns the pace to fall back to (the one before the last growth step). */
export function endStart(s: LaneState, now: number): number {
  s.growAt = over(now);
  s.grown = 0;
  return s.factor / START_GROWTH;
}

/** Whether the lane is in its start phase. */
export function starting(s: LaneState): boolean {
  return s.growAt > 0;
}
