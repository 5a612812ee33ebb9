/**
 * How a lane reacts to what a provider answered. Pure: (state, reply
 * category, now, params) → new state and what was done.
 *
 * - throttle: one reaction per event. A reply to a message sent before the
 *   lane reopened after the last reaction belongs to that reaction (`grouped`).
 *   Otherwise, in order:
 *   - other deliveries of the lane were open when the message was refused,
 *     and no more than the provider had been accepting at once on average
 *     over the last minute (`sustainedSessions`): the provider may limit
 *     sessions, so the lane's concurrency is capped at what was open
 *     (`capped`), the pace is kept. A refusal with fewer open than the
 *     provider was accepting at once is a refusal of the pace, not of a
 *     session: a provider that limits sessions never has more open;
 *   - the lane reopened and the provider refused again before accepting
 *     anything: its window has not drained or it penalises the source; the
 *     pause doubles (up to the rule's duration, else `throttlePauseMaxMs`),
 *     each doubled pause after the first taken in two halves
 *     ({@link extendedPauseMs}), and the pace is kept (`extended`);
 *   - else the pace is cut and the lane pauses for `throttlePauseMs`: in the
 *     start phase (lib/core/start.ts) back to the pace before its last
 *     growth step (`overshot`); else to `acceptedShare` of what the provider
 *     accepted over the last minute when the lane has been open that long
 *     (the known-good pace), else × `decrease` (`slowed`). A lane refused
 *     while climbing above its known-good pace goes back to it and has
 *     `overshot` too, and so has one refused within SETTLE_MS of reopening: its own
 *     limit, never a sign of a provider-wide incident; only `slowed` (a pace
 *     the provider had allowed) counts toward one.
 *   Recovery (lib/core/pace.ts): additive up to the known-good pace, then a
 *   slow climb whose interval is the pause it cost ÷ `climbCost`.
 * - connections: a temporary concurrency cap at half of what is in force.
 * - suspend: a pause for the rule's duration, then `acceptedShare` of what
 *   the provider accepted over the last minute, however short the sample and
 *   also in the start phase (a second suspension costs hours more).
 * - blocked: stop; one trial message per trial interval; a delivered trial unblocks.
 * - forgive (a provider-wide incident explains the reaction): back to the
 *   known-good pace, waiting out the provider's pause instead of its own.
 * - recipient, message, transient, unknown: counted, no pacing change.
 *
 * Pauses stop the lane's slot clock, so booked messages keep their order and
 * move on by the pause (lib/core/pace.ts).
 */

import type { Category } from './classify';

export { CATEGORIES, type Category } from './classify';
import { DEFAULT_POLICY, type LaneLimits, type LanePolicy, type LaneState } from './lane-state';
import { concurrencyLimit, slotTolerance, toleranceMs } from './throttle';
import { normalize } from './lane';
import { acceptedLastMinute, MAX_CLIMB_DOUBLINGS, pauseClock, resumeClock, setFactor, slotTime } from './pace';
import { endStart, startEndedAt, starting } from './start';
import { perMinute } from './rate';

/** Tunables of the reactions ([adapt] in paceline.ini). */
export interface ReactParams {
  /** On a throttle, the pace becomes this share of what the provider accepted in the last minute. */
  readonly acceptedShare: number;
  /** Pace multiplier on a throttle when the provider accepted nothing in the last minute (0.5 halves the pace). */
  readonly decrease: number;
  /** Lowest pace factor a lane is pushed to. */
  readonly floor: number;
  /** The first pause of a throttle event. */
  readonly throttlePauseMs: number;
  /** A pause extended because the provider still refuses doubles up to this (unless the rule sets its own duration). */
  readonly throttlePauseMaxMs: number;
  /** Throttle replies within this time after a reaction's pause ends are the same event. */
  readonly sameEventMs: number;
  readonly connectionsMs: number;
  readonly suspendMs: number;
  /** A climb above the known-good pace risks at most this share of the time in pauses: it waits pause ÷ climbCost. */
  readonly climbCost: number;
}

export const DEFAULT_REACT: ReactParams = {
  acceptedShare: 0.9,
  decrease: 0.5,
  floor: 0.05,
  throttlePauseMs: 60_000,
  throttlePauseMaxMs: 1_800_000,
  sameEventMs: 10_000,
  connectionsMs: 600_000,
  suspendMs: 7_200_000,
  climbCost: 0.1,
};

export type Effect =
  'slowed' | 'overshot' | 'extended' | 'grouped' | 'capped' | 'suspended' | 'blocked' | 'counted' | 'forgiven';

export interface ReactEvent {
  readonly category: Category | 'forgive';
  /** A rule's own duration: suspend and connections pauses; for a throttle, the longest its pause grows to. */
  readonly durationMs?: number;
  /**
   * When the refused message was sent (its lease began), epoch ms on the
   * store's clock. Without it (a recipient Haraka split off, which has no
   * lease) replies are grouped by arrival time alone, and neither sessions
   * nor an extended pause can be told.
   */
  readonly sentAt?: number;
}

/** When the lane reopened after its last reaction (0 = never reacted). */
function reopenedAt(s: LaneState, p: ReactParams): number {
  return s.sameEventUntil === 0 ? 0 : s.sameEventUntil - p.sameEventMs;
}

/**
 * The pace after a refusal. What the provider accepted from the lane in the
 * last minute is the best measure of what it will take: the pace becomes
 * `acceptedShare` of that (and always lower than before), remembered as the
 * known-good pace. When it accepted nothing, the pace is multiplied by
 * `decrease` and nothing is learnt.
 */
function slowDown(
  s: LaneState,
  limits: LaneLimits,
  p: ReactParams,
  now: number,
  pauseMs: number,
  policyIntervalMs: number,
  suspended = false,
): void {
  // a sample shorter than the minute it claims to measure overstates the limit of a longer window;
  // but a suspension costs hours, and what the provider accepted is a better guess than any other
  const sampled = suspended || s.sameEventUntil === 0 || now - reopenedAt(s, p) >= 60_000;
  const accepted = limits.rate && sampled ? acceptedLastMinute(s, now) / perMinute(limits.rate) : 0;
  s.prevFactor = s.factor;
  s.backoffs = 0;
  // set when the lane was refused climbing above its known-good pace
  let sameClimb: boolean | null = null;
  if (suspended && accepted > 0) {
    // the start phase's pace before its last growth step ran one start interval, shorter than the
    // provider's window may be: a second suspension at a guessed pace would cost hours more
    if (starting(s)) endStart(s, now);
    setFactor(s, now, Math.max(p.floor, p.acceptedShare * Math.min(s.factor, accepted)));
    s.known = s.factor;
  } else if (starting(s)) {
    setFactor(s, now, Math.max(p.floor, endStart(s, now)));
    s.known = s.factor;
  } else if (s.known > 0 && s.factor > s.known) {
    // refused while climbing above the known-good pace: back to the pace before the
    // last climb step, which ran clean, and that is the known-good pace now
    // (refused at its first step: the same climb as last time, see climbAfter())
    sameClimb = s.climbs <= 1;
    setFactor(s, now, Math.max(s.known, beforeLastClimb(s, limits.policy ?? DEFAULT_POLICY)));
    s.known = s.factor;
  } else if (accepted > 0) {
    setFactor(s, now, Math.max(p.floor, p.acceptedShare * Math.min(s.factor, accepted)));
    s.known = s.factor;
  } else {
    setFactor(s, now, Math.max(p.floor, s.factor * p.decrease));
  }
  climbAfter(s, p, pauseMs, sameClimb);
  pauseUntil(s, limits, now, Math.max(s.pauseUntil, now + pauseMs));
  // back at the known-good pace, the next step is a climb: it waits as long as any climb step
  s.recoverAt = s.pauseUntil + (sameClimb === null ? policyIntervalMs : Math.max(policyIntervalMs, s.climbMs));
}

/**
 * The wait between climb steps after a reaction that cost `pauseMs`: the
 * pause ÷ `climbCost`, so that a climb that finds the limit again costs at
 * most that share of the time in pauses. A lane refused again at its first
 * climb step above the same known-good pace (`sameStep`) is at its limit:
 * the wait doubles, up to 2^MAX_CLIMB_DOUBLINGS × the first, so that a lane
 * that sits at its limit pays less and less for looking above it.
 */
function climbAfter(s: LaneState, p: ReactParams, pauseMs: number, sameStep: boolean | null): void {
  const base = pauseMs / p.climbCost;
  s.climbMs = sameStep === true ? Math.min(base * 2 ** MAX_CLIMB_DOUBLINGS, Math.max(base, 2 * s.climbMs)) : base;
  s.climbs = 0;
}

/** The pace before the lane's last climb step (recover() of pace.ts), or its known-good pace before any. */
function beforeLastClimb(s: LaneState, policy: LanePolicy): number {
  if (s.climbs === 0) return s.known;
  return s.factor / (1 + policy.climbStep * 2 ** Math.min(s.climbs - 1, MAX_CLIMB_DOUBLINGS));
}

/**
 * Pauses the lane: the slot clock stands still until the pause ends, so
 * booked slots move on by the pause, in order. A lane told to slow down gets
 * no burst credit: after the pause it goes at the steady pace.
 */
function pauseUntil(s: LaneState, limits: LaneLimits, now: number, until: number): void {
  s.pauseUntil = until;
  pauseClock(s, now, until);
  if (!limits.rate) return;
  s.tat = Math.max(s.tat, slotTime(s, now) + slotTolerance(s, limits.rate));
  s.departAt = Math.max(s.departAt, until + toleranceMs(s, limits.rate));
}

/**
 * A lane refused within this time of reopening after its last reaction (or
 * of the end of its start phase) is still finding its pace (`overshot`): only a lane refused at a pace it had
 * kept for longer counts toward a provider-wide incident. The simulator showed
 * why: two new IPs converging on their limits within one incident window
 * looked like an incident and paused the provider for 5 minutes.
 */
export const SETTLE_MS = 300_000;

/**
 * Deliveries the provider accepted at once on average over the last minute
 * (Little's law: accepted per ms × the mean delivery time). A provider that
 * limits sessions to K never has more than K open, so this never exceeds K.
 */
export function sustainedSessions(s: LaneState, now: number): number {
  return (acceptedLastMinute(s, now) * s.meanDeliveryMs) / 60_000;
}

/**
 * The pause of a lane refused again after reopening, before anything was
 * accepted, for the `backoffs`-th time in a row. Doubling alone (2, 4, 8 … ×
 * `throttlePauseMs`, up to `maxMs`) reopens up to twice as late as a window
 * that drained just after a probe. So after the first, each doubled pause is
 * taken in two halves: the lane still probes at every time doubling would,
 * and once between, at most one more refusal per doubled pause.
 */
export function extendedPauseMs(backoffs: number, p: ReactParams, maxMs: number): number {
  if (backoffs <= 1) return Math.min(maxMs, 2 * p.throttlePauseMs);
  return Math.floor(Math.min(maxMs, p.throttlePauseMs * 2 ** (Math.ceil((backoffs - 1) / 2) + 1)) / 2);
}

/** The throttle reaction (see the file's header). */
function throttled(
  s: LaneState,
  limits: LaneLimits,
  now: number,
  event: ReactEvent,
  p: ReactParams,
  interval: number,
): Effect {
  s.dayThrottles += 1;
  const sent = event.sentAt;
  // replies to messages sent before the lane reopened (or, not knowing when, arriving just after) are the same event
  if (sent === undefined ? now < s.sameEventUntil : sent < reopenedAt(s, p)) return 'grouped';
  if (
    sent !== undefined &&
    s.leases.length > 0 &&
    (s.connCap === 0 || s.leases.length < s.connCap) &&
    s.leases.length >= sustainedSessions(s, now)
  ) {
    s.connCap = s.leases.length;
    s.connCapUntil = now + p.connectionsMs;
    return 'capped';
  }
  const maxMs = event.durationMs ?? p.throttlePauseMaxMs;
  if (sent !== undefined && s.sameEventUntil !== 0 && s.acceptedAt < reopenedAt(s, p)) {
    s.backoffs += 1;
    pauseUntil(s, limits, now, Math.max(s.pauseUntil, now + extendedPauseMs(s.backoffs, p, maxMs)));
    // the mail booked on the lane leaves from other sources meanwhile (sooner() in lib/engine/candidates.ts):
    // new bookings begin when the lane reopens, not behind the slots given up
    if (limits.rate) s.tat = slotTime(s, now) + slotTolerance(s, limits.rate);
    s.sameEventUntil = s.pauseUntil + p.sameEventMs;
    s.recoverAt = Math.max(s.recoverAt, s.pauseUntil + interval);
    return 'extended';
  }
  // a lane in its start phase, climbing above its known-good pace, or refused
  // again soon after its last reaction is still finding its own limit: that
  // says nothing about the provider as a whole (no incident)
  const settling = reopenedAt(s, p) || startEndedAt(s);
  const overshot = starting(s) || (s.known > 0 && s.factor > s.known) || (settling !== 0 && now - settling < SETTLE_MS);
  slowDown(s, limits, p, now, Math.min(maxMs, p.throttlePauseMs), interval);
  s.sameEventUntil = s.pauseUntil + p.sameEventMs;
  return overshot ? 'overshot' : 'slowed';
}

/** Applies one classified reply to a lane. */
export function react(
  prior: LaneState,
  limits: LaneLimits,
  now: number,
  event: ReactEvent,
  p: ReactParams = DEFAULT_REACT,
): { state: LaneState; effect: Effect } {
  const s = normalize(prior, limits, now, true);
  const interval = (limits.policy ?? DEFAULT_POLICY).recoverIntervalMs;
  switch (event.category) {
    case 'throttle':
      return { state: s, effect: throttled(s, limits, now, event, p, interval) };
    case 'connections': {
      const inForce = Math.min(concurrencyLimit(s, limits), Math.max(1, s.leases.length));
      s.connCap = Math.max(1, Math.floor(inForce / 2));
      s.connCapUntil = now + (event.durationMs ?? p.connectionsMs);
      return { state: s, effect: 'capped' };
    }
    case 'suspend': {
      s.dayThrottles += 1;
      const pauseMs = event.durationMs ?? p.suspendMs;
      if (now < s.sameEventUntil) {
        // the same burst of replies: the suspension stands (a longer one wins), the pace is not cut again
        if (now + pauseMs <= s.pauseUntil + p.sameEventMs) return { state: s, effect: 'grouped' };
        pauseUntil(s, limits, now, now + pauseMs);
        s.recoverAt = s.pauseUntil + interval;
        s.climbMs = Math.max(s.climbMs, pauseMs / p.climbCost);
      } else {
        slowDown(s, limits, p, now, pauseMs, interval, true);
      }
      s.sameEventUntil = s.pauseUntil + p.sameEventMs;
      return { state: s, effect: 'suspended' };
    }
    case 'blocked':
      if (s.blockedAt === 0) {
        s.blockedAt = now;
        s.prevFactor = s.factor;
        setFactor(s, now, p.floor);
        s.known = 0;
        s.epoch += 1;
        // a blocked lane climbs back by recovery after a delivered trial, never by doubling
        if (starting(s)) endStart(s, now);
      }
      s.trialAt = now + (limits.policy ?? DEFAULT_POLICY).trialIntervalMs;
      return { state: s, effect: 'blocked' };
    case 'forgive':
      // the provider's trouble, not the lane's pace: back to the known-good pace
      // (measured from what the provider accepted), else to the pace before the
      // reaction; the lane waits out the provider's pause (`durationMs`), not its own
      resumeClock(s, now);
      setFactor(s, now, Math.max(s.factor, s.known > 0 ? s.known : s.prevFactor));
      s.pauseUntil = 0;
      if (limits.rate) s.departAt = Math.min(s.departAt, now + toleranceMs(s, limits.rate));
      if (event.durationMs) pauseUntil(s, limits, now, now + event.durationMs);
      s.recoverAt = s.factor < 1 ? Math.max(now, s.pauseUntil) + interval : 0;
      // replies still in flight are the same event; later ones are new
      s.sameEventUntil = Math.min(s.sameEventUntil, now + p.sameEventMs);
      return { state: s, effect: 'forgiven' };
    default:
      return { state: s, effect: 'counted' };
  }
}
