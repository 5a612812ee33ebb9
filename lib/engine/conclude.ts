/**
 * A store's answer on a lane (granted, reserved, wait) as the engine's
 * Decision, with the ticket updated to match. Pure but for the ticket.
 */

import type { AcquireResult } from '../core/lane-state';
import { starting } from '../core/start';
import type { Candidate, Ctx } from './candidates';
import type { Decision, DecisionReason } from './decision';
import { waitDecision, waitingOf } from './delays';

/**
 * The decision for a store's answer on a candidate's lane: send (the ticket
 * takes the lease), or wait (a booked slot is kept on the ticket).
 * `recheckMs`: the store's (see StoreResult); a lane in its start phase
 * rechecks every start interval.
 */
export function conclude(
  ctx: Ctx,
  c: Candidate,
  result: AcquireResult,
  now: number,
  how: DecisionReason,
  what: string,
  maxDelayMs: number,
  recheckMs = 0,
): Decision {
  const { source, lane } = c;
  if (result.kind === 'granted') {
    delete ctx.ticket.reservation;
    ctx.ticket.lease = { lane, limits: c.view.limits, id: result.leaseId, startedAt: now };
    const probe = ctx.ticket.probe ? ' (provider probe)' : '';
    const warm = c.view.warm ? ` (warm-up ${c.view.warm.schedule} day ${c.view.warm.day}, cap ${c.view.warm.cap})` : '';
    return {
      action: 'send',
      source,
      provider: ctx.provider,
      hosts: ctx.hosts,
      reason: how,
      why: `${ctx.prefix}${what} on ${source.name}${warm}${probe}`,
    };
  }
  if (result.kind === 'reserved')
    ctx.ticket.reservation = { lane, at: result.at, slot: result.slot, epoch: result.epoch };
  const booked =
    result.kind === 'reserved' ||
    (result.kind === 'wait' && result.reason === 'rate' && ctx.ticket.reservation !== undefined);
  const reason =
    result.kind === 'reserved' ? `reserved rate slot on ${source.name}` : `${result.reason} limit on ${source.name}`;
  const startMs = starting(c.state) ? (c.view.limits.policy?.startIntervalMs ?? 0) : 0;
  const every = [startMs, recheckMs].filter((ms) => ms > 0);
  const code: DecisionReason = result.kind === 'reserved' ? 'reserved_slot' : result.reason;
  const recheck = every.length > 0 ? Math.min(...every) : 0;
  return waitDecision(waitingOf(ctx, maxDelayMs), result.at, now, code, reason, booked, recheck);
}
