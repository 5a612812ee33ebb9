/**
 * The source and lane bookkeeping of a decision: which sources of a pool can
 * reach the MX hosts and are up, each one's lane with its state and limits
 * today (the candidates decide() chooses among), and where a booked message
 * stands.
 */

import { realTime } from '../core/pace';
import type { LaneState } from '../core/lane-state';
import { earliestAt } from '../core/lane';
import type { Config, Pool, Source } from '../config/types';
import type { LaneRef } from '../store/types';
import type { Message, Ticket } from './decision';
import type { MxHost } from './mx';
import { PRECISE_MS } from './delays';
import { type LaneView, plainLaneView, type WarmupLimits } from './warmup-limits';

export function reachable(source: Source, hosts: readonly MxHost[]): boolean {
  if (!source.family) return true;
  return hosts.some((h) => (source.family === 6 ? h.v6 : h.v4).length > 0);
}

export interface Ctx {
  readonly msg: Message;
  readonly ticket: Ticket;
  readonly provider: string;
  readonly pool: Pool;
  /** Sources of the pool that can reach the MX hosts, with their limits today. */
  readonly candidates: readonly Candidate[];
  readonly hosts: readonly MxHost[];
  readonly prefix: string;
}

/** A candidate with the earliest time its lane could take a message. */
export interface Ranked {
  readonly c: Candidate;
  readonly at: number;
}

export interface Candidate {
  readonly source: Source;
  readonly lane: LaneRef;
  readonly state: LaneState;
  readonly view: LaneView;
}

/** The candidate whose lane holds the message's booked slot, if it has one for this provider. */
export function bookedCandidate(ctx: Ctx): Candidate | undefined {
  const reserved = ctx.ticket.reservation;
  return reserved && reserved.lane.provider === ctx.provider
    ? ctx.candidates.find((c) => c.source.name === reserved.lane.source)
    : undefined;
}

/**
 * A booked slot this much later than now has moved since the message was
 * booked (its lane slowed down or paused): a message comes back up to
 * PRECISE_MS early by design (lib/engine/delays.ts), never this early.
 */
export const MOVED_MS = 2 * PRECISE_MS;

/**
 * Whether a message booked on one lane can leave now from another source of
 * its pool. A lane the provider keeps refusing (a rule bug on one IP, a
 * penalty) must not hold the mail booked on it while other IPs are free; nor
 * must a lane that slowed down after the mail was booked: its bookings move
 * later with its pace (lib/core/pace.ts) while a source whose pace held, or
 * whose own mail is sent, stands idle (the sources of a pool used unevenly
 * after adaptation). So a booking is given up when the lane is paused or
 * its slot now lies more than MOVED_MS ahead, and only to a lane free now:
 * a booking given up for a later one would join the back of that lane's queue.
 */
export function sooner(ctx: Ctx, mine: Candidate, now: number): boolean {
  const slot = ctx.ticket.reservation?.slot;
  const moved =
    slot !== undefined && mine.view.limits.rate !== undefined && realTime(mine.state, slot) > now + MOVED_MS;
  if (mine.state.pauseUntil <= now && !moved) return false;
  return ctx.candidates.some((c) => c !== mine && earliestAt(c.state, c.view.limits, now) <= now);
}

/** The sources not marked down in this process; all of them when every one is down (a mark never stops mail). */
export function usable(sources: readonly Source[], isDown: (source: string) => boolean): readonly Source[] {
  const up = sources.filter((s) => !isDown(s.name));
  return up.length > 0 ? up : sources;
}

/** The candidates with their limits today; only warming sources need the store (and a promise). */
export async function laneCandidates(
  warmup: WarmupLimits,
  config: Config,
  sources: readonly Source[],
  lanes: readonly LaneRef[],
  states: readonly LaneState[],
  provider: string,
  now: number,
): Promise<Candidate[]> {
  const warming = sources.map((source, i) => warmup.warmView(config, source, provider, now, states[i]));
  const views: ReadonlyArray<LaneView | undefined> = warming.some((w) => w !== undefined)
    ? await Promise.all(warming)
    : [];
  return sources.map((source, i) => ({
    source,
    lane: lanes[i] as LaneRef,
    state: states[i] as LaneState,
    view: views[i] ?? plainLaneView(config, source.name, provider, now),
  }));
}

/** When this message could leave (from the peeked states): its booked slot, else the soonest-free candidate. */
export function readyAt(ctx: Ctx, now: number): number {
  const reserved = ctx.ticket.reservation;
  const mine = bookedCandidate(ctx);
  if (reserved && mine && mine.view.limits.rate) return Math.max(now, realTime(mine.state, reserved.slot));
  return Math.min(...ctx.candidates.map((c) => earliestAt(c.state, c.view.limits, now)));
}
