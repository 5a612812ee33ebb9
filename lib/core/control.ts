/**
 * Operator controls: what an operator told paceline to do, as plain data the
 * stores keep and the engine consults when deciding. A control names a target
 * (one lane, every lane of a provider, or every lane of a source) and lasts
 * until a time or until it is resumed. Lifting a lane's suspension or block
 * and resetting its adaptation are one-off changes to the lane's state, also
 * here, so the memory store and the Lua scripts apply the same steps.
 *
 * Pure: times are arguments, epoch ms.
 */

import type { LaneState } from './lane-state';
import { resumeClock, setFactor } from './pace';
import type { ProviderState } from './provider-state';

/** What a control applies to. */
export type ControlTarget =
  | { readonly kind: 'lane'; readonly source: string; readonly provider: string }
  | { readonly kind: 'provider'; readonly provider: string }
  | { readonly kind: 'source'; readonly source: string };

/** A stored control. `pause` is the only kept action: lift and reset change lane state once. */
export interface Control {
  readonly target: ControlTarget;
  readonly action: 'pause';
  /** When it was set (the store's clock, epoch ms). */
  readonly at: number;
  /** When it ends (epoch ms); 0 = until an operator resumes it. */
  readonly until: number;
  readonly reason: string;
  /** Who set it (a user name, or what the HTTP caller said). */
  readonly who: string;
}

/** What an operator asks a store to keep. `forMs` 0 = until resumed. */
export interface ControlRequest {
  readonly target: ControlTarget;
  readonly forMs: number;
  readonly reason: string;
  readonly who: string;
}

/** The key of a target inside a store: one control per target (a new one replaces it). */
export function targetKey(t: ControlTarget): string {
  switch (t.kind) {
    case 'lane':
      return `lane:${t.source}|${t.provider}`;
    case 'provider':
      return `provider:${t.provider}`;
    case 'source':
      return `source:${t.source}`;
  }
}

/** A target in words, for logs and status: `provider google`, `lane s2/google`. */
export function describeTarget(t: ControlTarget): string {
  return t.kind === 'lane'
    ? `lane ${t.source}/${t.provider}`
    : t.kind === 'provider'
      ? `provider ${t.provider}`
      : `source ${t.source}`;
}

/** Builds the stored control of a request at `now`. */
export function makeControl(req: ControlRequest, now: number): Control {
  return {
    target: req.target,
    action: 'pause',
    at: now,
    until: req.forMs > 0 ? now + req.forMs : 0,
    reason: req.reason,
    who: req.who,
  };
}

/** Whether a control is still in force at `now`. */
export function inForce(c: Control, now: number): boolean {
  return c.until === 0 || c.until > now;
}

/** Whether a control's target covers a lane. */
export function covers(t: ControlTarget, source: string, provider: string): boolean {
  if (t.kind === 'lane') return t.source === source && t.provider === provider;
  return t.kind === 'provider' ? t.provider === provider : t.source === source;
}

/**
 * The pause in force on a lane at `now`, if any: the one that ends last
 * (one without an end wins), so the lane waits for every pause covering it.
 */
export function pauseOn(
  controls: readonly Control[],
  source: string,
  provider: string,
  now: number,
): Control | undefined {
  let found: Control | undefined;
  for (const c of controls) {
    if (!inForce(c, now) || !covers(c.target, source, provider)) continue;
    if (!found || c.until === 0 || (found.until !== 0 && c.until > found.until)) found = c;
  }
  return found;
}

/**
 * Lifts what adaptation closed a lane with: a pause or suspension (the slot
 * clock runs again from `now`, and the next departure may leave now), a block and its trials, a connection cap, the
 * hold on further reactions and the pause back-off. The pace is left as it is
 * (see resetPace).
 */
export function liftLane(prior: LaneState, now: number): LaneState {
  const s: LaneState = { ...prior, leases: [...prior.leases] };
  if (s.pauseUntil > now) {
    resumeClock(s, now);
    // the pause pushed the next departure to its end; the rate's own spacing is kept otherwise
    s.departAt = Math.min(s.departAt, now);
  }
  s.pauseUntil = 0;
  s.blockedAt = 0;
  s.trialAt = 0;
  s.connCap = 0;
  s.connCapUntil = 0;
  s.sameEventUntil = 0;
  s.backoffs = 0;
  return s;
}

/**
 * Puts a lane back at its configured pace: factor 1 (booked slots keep their
 * place on the slot clock), nothing learnt, no recovery or climb pending,
 * and no start phase (it has ended at `now`).
 */
export function resetPace(prior: LaneState, now: number): LaneState {
  const s: LaneState = { ...prior, leases: [...prior.leases] };
  setFactor(s, now, 1);
  s.prevFactor = 1;
  s.known = 0;
  s.climbMs = 0;
  s.climbs = 0;
  s.recoverAt = 0;
  s.growAt = -now;
  s.grown = 0;
  return s;
}

/** Ends a provider-wide incident: no pause, no probing, no recent throttles (the cooldown stays). */
export function liftProvider(prior: ProviderState): ProviderState {
  return { ...prior, throttled: {}, pauseUntil: 0, probing: 0, probeAt: 0 };
}

function isName(x: unknown): x is string {
  return typeof x === 'string' && x.length > 0;
}

/** A target read back from JSON (a store, a file, a request); undefined when it is not one. */
export function asTarget(x: unknown): ControlTarget | undefined {
  const o = x as Record<string, unknown> | null;
  if (!o || typeof o !== 'object') return undefined;
  if (o.kind === 'lane' && isName(o.source) && isName(o.provider))
    return { kind: 'lane', source: o.source, provider: o.provider };
  if (o.kind === 'provider' && isName(o.provider)) return { kind: 'provider', provider: o.provider };
  if (o.kind === 'source' && isName(o.source)) return { kind: 'source', source: o.source };
  return undefined;
}

/** A control read back from JSON; undefined when it is not one. */
export function asControl(x: unknown): Control | undefined {
  const o = x as Record<string, unknown> | null;
  const target = o && typeof o === 'object' ? asTarget(o.target) : undefined;
  if (!o || !target || o.action !== 'pause') return undefined;
  const { at, until, reason, who } = o;
  if (typeof at !== 'number' || typeof until !== 'number' || typeof reason !== 'string' || typeof who !== 'string')
    return undefined;
  return { target, action: 'pause', at, until, reason, who };
}
