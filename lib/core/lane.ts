/**
 * The operations on a lane (source × provider): bring its state up to now,
 * then take a slot and a concurrency lease (acquire, claim) or give the
 * lease back (release). The slot arithmetic is lib/core/throttle.ts, the
 * state lib/core/lane-state.ts. Mirrored by lib/store/lua/includes/lane.lua.
 *
 * No I/O, no clock: `now` (epoch ms) is always an argument.
 */

import { formatRate } from './rate';
import { dayNumber, nextDayStartMs } from './day';
import { countAccepted, realTime, recover } from './pace';
import { beginOrGrow, countGrowth } from './start';
import {
  DEFAULT_POLICY,
  type AcquireRequest,
  type AcquireResult,
  type ClaimRequest,
  type LaneLimits,
  type LaneState,
} from './lane-state';
import { blocker, changeRate, concurrencyFreeAt, countLeaving, departFreeAt, rateFreeAt, takeSlot } from './throttle';

/**
 * Brings a state up to `now`: expired leases, day rollover, changed rate,
 * recovery, ended caps and pauses. `keepRate` leaves the rate state alone, for
 * steps that take no slot (release, react), whose callers may not know the
 * lane's current rate.
 */
export function normalize(state: LaneState, limits: LaneLimits, now: number, keepRate = false): LaneState {
  const s: LaneState = { ...state, leases: state.leases.filter((l) => l.expiresAt > now) };
  const rateKey = limits.rate ? formatRate(limits.rate) : '';
  if (!keepRate && rateKey !== s.rateKey) changeRate(s, limits, rateKey, now);
  const today = dayNumber(now, limits.dayOffsetMs);
  if (s.day !== today) {
    if (s.dayCount > 0 || s.dayThrottles > 0) {
      s.prevDay = s.day;
      s.prevDayCount = s.dayCount;
      s.prevDayThrottles = s.dayThrottles;
    }
    s.day = today;
    s.dayCount = 0;
    s.dayThrottles = 0;
  }
  if (s.pauseUntil !== 0 && s.pauseUntil <= now) s.pauseUntil = 0;
  if (s.connCapUntil !== 0 && s.connCapUntil <= now) {
    s.connCap = 0;
    s.connCapUntil = 0;
  }
  const policy = limits.policy ?? DEFAULT_POLICY;
  recover(s, policy, now);
  beginOrGrow(s, limits, policy, now);
  return s;
}

/** Earliest time this lane could take a message, for choosing among sources. */
export function earliestAt(state: LaneState, limits: LaneLimits, now: number): number {
  const s = normalize(state, limits, now);
  const b = blocker(s, limits, now);
  if (!b) return now;
  if (b.reason !== 'concurrency') return b.at;
  return Math.max(b.at, rateFreeAt(s, limits, now));
}

/**
 * Try to take a slot on the lane. Grants (with a lease) when everything is
 * free now; in `reserve` mode books the next rate slot when only the rate
 * binds and that slot falls on the same day; otherwise says how long to wait.
 */
export function acquire(
  prior: LaneState,
  limits: LaneLimits,
  now: number,
  req: AcquireRequest,
): { state: LaneState; result: AcquireResult } {
  return take(normalize(prior, limits, now), limits, now, req, true);
}

/** acquire() on a normalized state; `countDay` false for a message that books again. */
function take(
  state: LaneState,
  limits: LaneLimits,
  now: number,
  req: AcquireRequest,
  countDay: boolean,
): { state: LaneState; result: AcquireResult } {
  const b = blocker(state, limits, now);
  if (!b) {
    takeSlot(state, limits, now, countDay);
    countLeaving(state, limits, now);
    state.leases.push({ id: req.leaseId, expiresAt: now + req.leaseMs });
    return { state, result: { kind: 'granted', leaseId: req.leaseId } };
  }
  if (b.reason === 'rate' && req.mode === 'reserve' && b.at < nextDayStartMs(now, limits.dayOffsetMs)) {
    const slot = takeSlot(state, limits, now, countDay);
    return { state, result: { kind: 'reserved', at: b.at, slot, epoch: state.epoch } };
  }
  return { state, result: { kind: 'wait', at: b.at, reason: b.reason } };
}

/**
 * A message comes back for the rate slot it reserved: it needs only a
 * concurrency lease now (its rate slot and daily count were taken at
 * booking). The slot's real time follows the pace in force (slot clock). A
 * booking from before a block books again; so does a message far behind its
 * slot (a stalled process, a restart) that finds the lane busy, in the order
 * it came back, rather than crowding every next departure.
 */
export function claim(
  prior: LaneState,
  limits: LaneLimits,
  now: number,
  req: ClaimRequest,
): { state: LaneState; result: AcquireResult } {
  const state = normalize(prior, limits, now);
  const rebook = { mode: 'reserve', leaseId: req.leaseId, leaseMs: req.leaseMs } as const;
  if (req.epoch !== state.epoch) return take(state, limits, now, rebook, false);
  const due = limits.rate ? realTime(state, req.slot) : now;
  if (due > now) return { state, result: { kind: 'wait', at: due, reason: 'rate' } };
  if (state.pauseUntil > now) return { state, result: { kind: 'wait', at: state.pauseUntil, reason: 'paused' } };
  const late = now - due > LATE_MS;
  const at = concurrencyFreeAt(state, limits, now);
  if (at > now)
    return late
      ? take(state, limits, now, rebook, false)
      : { state, result: { kind: 'wait', at, reason: 'concurrency' } };
  const departAt = departFreeAt(state, limits, now);
  if (departAt > now)
    return late
      ? take(state, limits, now, rebook, false)
      : { state, result: { kind: 'wait', at: departAt, reason: 'rate' } };
  countLeaving(state, limits, now);
  state.leases.push({ id: req.leaseId, expiresAt: now + req.leaseMs });
  return { state, result: { kind: 'granted', leaseId: req.leaseId } };
}

/** A booked message coming back more than this late for its slot books again. */
export const LATE_MS = 30_000;

/** Weight of the newest delivery in the moving average of delivery time. */
export const EWMA_WEIGHT = 0.2;

/**
 * A delivery ended: free its lease and learn its duration. A delivered trial
 * unblocks a blocked lane, which then climbs back from its lowered pace.
 */
export function release(
  prior: LaneState,
  limits: LaneLimits,
  now: number,
  leaseId: string,
  delivered: boolean,
  durationMs?: number,
): LaneState {
  const s = normalize(prior, limits, now, true);
  s.leases = s.leases.filter((l) => l.id !== leaseId);
  if (durationMs !== undefined && Number.isFinite(durationMs) && durationMs >= 0) {
    s.meanDeliveryMs += EWMA_WEIGHT * (durationMs - s.meanDeliveryMs);
  }
  if (delivered) {
    countAccepted(s, now);
    countGrowth(s);
    s.acceptedAt = now;
  }
  if (delivered && s.blockedAt !== 0) {
    s.blockedAt = 0;
    s.trialAt = 0;
    s.recoverAt = now + (limits.policy ?? DEFAULT_POLICY).recoverIntervalMs;
  }
  return s;
}
