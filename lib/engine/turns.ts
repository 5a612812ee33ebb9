/**
 * The turns this process gives the messages waiting for a concurrency slot
 * (lib/core/turn.ts): per lane, when its next turn falls. Kept in the
 * process, like the messages' tickets: they die together, so a restarted
 * process never waits behind the turns of messages it no longer holds, and
 * a turn costs no store call (the decision's peek and acquire tell enough).
 * With several processes on one lane each spaces its own waiting messages;
 * two turns that fall together cost the later one a short retry.
 */

import type { LaneLimits, LaneState } from '../core/lane-state';
import { nextTurn, slotEnds, type Turn } from '../core/turn';
import { laneKey, type LaneRef } from '../store/types';

/** A message's turn, on the lane it was given on. */
export type LaneTurn = Turn & { readonly lane: string };

/** Lanes remembered before the ones whose booked turns have all passed are dropped. */
const SWEEP_ABOVE = 1000;

export class Turns {
  /** Per lane key: when each of its slots frees after the turns booked on it (epoch ms, ascending). */
  private readonly queues = new Map<string, readonly number[]>();

  /**
   * The turn of a message the lane refused for concurrency. `state`: the
   * lane as peeked for this decision; `freeAt`: the store's estimate of the
   * next free slot; `leaseTtlMs`: how long a new lease lives (lease_ttl).
   */
  next(
    ticket: { turn?: LaneTurn },
    lane: LaneRef,
    state: LaneState,
    limits: LaneLimits,
    leaseTtlMs: number,
    now: number,
    freeAt: number,
  ): Turn {
    const key = laneKey(lane);
    const prior = ticket.turn?.lane === key ? ticket.turn : undefined;
    const ends = slotEnds(state, limits, leaseTtlMs, now, freeAt);
    const r = nextTurn(prior, this.queues.get(key) ?? [], ends, state, limits, now);
    if (this.queues.size > SWEEP_ABOVE) this.sweep(now);
    this.queues.set(key, r.queue);
    ticket.turn = { ...r.turn, lane: key };
    return r.turn;
  }

  /** The message got a slot, or waits for something else: its turn is over. */
  forget(ticket: { turn?: LaneTurn }): void {
    delete ticket.turn;
  }

  private sweep(now: number): void {
    for (const [key, queue] of this.queues) if (Math.max(...queue) <= now) this.queues.delete(key);
  }
}
