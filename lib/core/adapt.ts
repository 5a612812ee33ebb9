/**
 * How a lane reacts to what a provider answered. Pure: (state, reply
 * category, now, params) → new state and what was done.
 *
 * - throttle: multiplicative decrease of the pace and a short pause, once per
 *   burst of replies (fifty in-flight messages answered 451 at once are one
 *   event); recovery is additive, one step per clean interval (lane.ts).
 * - connections: a temporary concurrency cap at half of what is in force.
 * - suspend: a pause for the rule's duration, then a slow resumption.
 * - blocked: stop; one probe per probe interval; a delivered probe unblocks.
 * - recipient, message, transient, unknown: counted, no pacing change.
 */

import type { Category } from './classify';

export { CATEGORIES, type Category } from './classify';
import { concurrencyLimit, normalize, type LaneLimits, type LaneState } from './lane';


/** Tunables of the reactions ([adapt] in paceline.ini). */
export interface ReactParams {
  /** Pace multiplier on a throttle reaction (0.5 halves the pace). */
  readonly decrease: number;
  /** Lowest pace factor a lane is pushed to. */
  readonly floor: number;
  readonly throttlePauseMs: number;
  /** Throttle replies within this time after a reaction's pause ends are the same event. */
  readonly holdMs: number;
  readonly connectionsMs: number;
  readonly suspendMs: number;
}

export const DEFAULT_REACT: ReactParams = {
  decrease: 0.5,
  floor: 0.05,
  throttlePauseMs: 60_000,
  holdMs: 10_000,
  connectionsMs: 600_000,
  suspendMs: 7_200_000,
};

export type Effect = 'slowed' | 'held' | 'capped' | 'suspended' | 'blocked' | 'counted' | 'forgiven';

export interface ReactEvent {
  readonly category: Category | 'forgive';
  /** A rule's own duration for suspend/connections/throttle pauses. */
  readonly durationMs?: number;
}

function slowDown(s: LaneState, p: ReactParams, now: number, pauseMs: number, policyIntervalMs: number): void {
  s.prevFactor = s.factor;
  s.factor = Math.max(p.floor, s.factor * p.decrease);
  s.pauseUntil = Math.max(s.pauseUntil, now + pauseMs);
  s.recoverAt = s.pauseUntil + policyIntervalMs;
  s.epoch += 1;
  // bookings of the old pace are void (epoch); new ones start when the pause ends
  s.tat = s.pauseUntil;
  s.departAt = s.pauseUntil;
}

/** Applies one classified reply to a lane. */
export function react(prior: LaneState, limits: LaneLimits, now: number, event: ReactEvent, p: ReactParams = DEFAULT_REACT): { state: LaneState; effect: Effect } {
  const s = normalize(prior, limits, now, true);
  const interval = limits.policy?.recoverIntervalMs ?? 300_000;
  switch (event.category) {
    case 'throttle':
      s.dayThrottles += 1;
      // replies to messages sent before or just after the pause belong to the same event
      if (s.reactedAt !== 0 && now - s.reactedAt < (event.durationMs ?? p.throttlePauseMs) + p.holdMs) return { state: s, effect: 'held' };
      s.reactedAt = now;
      slowDown(s, p, now, event.durationMs ?? p.throttlePauseMs, interval);
      return { state: s, effect: 'slowed' };
    case 'connections': {
      const inForce = Math.min(concurrencyLimit(s, limits), Math.max(1, s.leases.length));
      s.connCap = Math.max(1, Math.floor(inForce / 2));
      s.connCapUntil = now + (event.durationMs ?? p.connectionsMs);
      return { state: s, effect: 'capped' };
    }
    case 'suspend':
      s.dayThrottles += 1;
      slowDown(s, p, now, event.durationMs ?? p.suspendMs, interval);
      return { state: s, effect: 'suspended' };
    case 'blocked':
      if (s.blockedAt === 0) {
        s.blockedAt = now;
        s.prevFactor = s.factor;
        s.factor = p.floor;
        s.epoch += 1;
      }
      s.probeAt = now + (limits.policy?.probeIntervalMs ?? 3_600_000);
      return { state: s, effect: 'blocked' };
    case 'forgive':
      s.factor = Math.max(s.factor, s.prevFactor);
      s.pauseUntil = 0;
      s.recoverAt = 0;
      s.reactedAt = 0;
      return { state: s, effect: 'forgiven' };
    default:
      return { state: s, effect: 'counted' };
  }
}
