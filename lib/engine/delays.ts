/**
 * The delay arithmetic of a decision: whole-second DELAYs as Haraka needs
 * them, the early return and in-process hold of a booked message, and the
 * max_delay deadline past which a message expires instead of waiting again.
 * Pure: `now` is an argument.
 */

import type { Decision, DecisionReason } from './decision';

/** Whole seconds from `now` until `at`: a finite integer ≥ 1, as Haraka's DELAY needs. */
export function delaySeconds(at: number, now: number): number {
  const s = Math.ceil((at - now) / 1000);
  return Number.isFinite(s) && s >= 1 ? s : 1;
}

/**
 * Haraka retries a delayed message up to a second after its whole-second
 * DELAY (its delay queue polls once a second). A message with a booked slot
 * is therefore told to come back up to two seconds early, and the plugin
 * holds it in-process for the exact rest: it leaves on its slot, not up to two
 * seconds after it, and paced mail does not leave in per-second groups.
 */
export const PRECISE_MS = 2000;

/** Whole seconds to DELAY so that the message is back before `at` (then held for the rest). */
export function earlySeconds(at: number, now: number): number {
  return Math.max(1, Math.floor((at - now) / 1000) - 1);
}

/**
 * A booked slot's real time follows the lane's pace (lib/core/pace.ts): it
 * moves earlier when the lane recovers. A message booked more than this far
 * ahead comes back after half the time to see where its slot is now (a
 * handful of returns per message, however long the queue).
 */
export const REPOLL_MS = 60_000;

/** A booked message comes back at least this often (a slot pushed far out by a pause comes back in when the pace recovers). */
export const REPOLL_MAX_MS = 300_000;

/**
 * DELAY for a booked message: back just before its slot, or after half the
 * way to a far slot (at most REPOLL_MAX_MS). A booked slot may come nearer:
 * on a lane in its start phase (lib/core/start.ts) the pace may grow by half every
 * start interval, and a slot the local fallback booked while the shared store
 * was away gives way to the shared pace when it is back. Such a message comes
 * back at least every `recheckMs`, or the lane would wait for messages booked
 * at a pace it has left.
 */
export function bookedDelaySeconds(at: number, now: number, recheckMs = 0): number {
  if (recheckMs > 0 && at - now > recheckMs + PRECISE_MS) return Math.max(1, Math.floor(recheckMs / 1000));
  return at - now > REPOLL_MS ? Math.floor(Math.min(at - now, 2 * REPOLL_MAX_MS) / 2000) : earlySeconds(at, now);
}

/** What a waiting decision needs to know about its message. */
export interface Waiting {
  readonly provider: string;
  /** Put before the sentence (a note on the pool asked for), '' for none. */
  readonly prefix: string;
  /** Epoch ms the message was queued. */
  readonly queueTime: number;
  /** [main] max_delay, ms. */
  readonly maxDelayMs: number;
}

/** The Waiting of a message being decided (anything with its provider, prefix and msg.queueTime). */
export function waitingOf(
  ctx: { readonly provider: string; readonly prefix: string; readonly msg: { readonly queueTime: number } },
  maxDelayMs: number,
): Waiting {
  return { provider: ctx.provider, prefix: ctx.prefix, queueTime: ctx.msg.queueTime, maxDelayMs };
}

/**
 * Delay until `at`, but never past max_delay; a message already past it
 * expires. `booked`: the message holds a rate slot at `at` (it comes back
 * early and is held for the rest). `recheckMs`: how often a booked message
 * comes back, when its slot may come nearer (see bookedDelaySeconds).
 */
export function waitDecision(
  m: Waiting,
  at: number,
  now: number,
  code: DecisionReason,
  reason: string,
  booked = false,
  recheckMs = 0,
): Decision {
  const deadline = m.queueTime + m.maxDelayMs;
  if (now >= deadline) {
    return {
      action: 'expire',
      provider: m.provider,
      reason: 'max_delay',
      why: `delayed by pacing since ${new Date(m.queueTime).toISOString()} (${reason}), beyond max_delay`,
    };
  }
  if (booked && at <= deadline) {
    if (at - now <= PRECISE_MS)
      return {
        action: 'hold',
        ms: Math.max(0, at - now),
        provider: m.provider,
        reason: code,
        why: `${m.prefix}${reason}, leaving in ${at - now} ms`,
      };
    const early = bookedDelaySeconds(at, now, recheckMs);
    return {
      action: 'delay',
      seconds: early,
      provider: m.provider,
      reason: code,
      why: `${m.prefix}${reason}, next slot in ${Math.ceil((at - now) / 1000)}s (back in ${early}s)`,
    };
  }
  const seconds = delaySeconds(Math.min(at, deadline), now);
  return {
    action: 'delay',
    seconds,
    provider: m.provider,
    reason: code,
    why: `${m.prefix}${reason}, next slot in ${seconds}s`,
  };
}
