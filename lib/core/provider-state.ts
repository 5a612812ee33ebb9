/**
 * Provider-wide incidents. When most lanes of a provider (warm ones too) are
 * throttled within one window, the trouble is the provider's, not one IP's:
 * pause the whole provider briefly, then probe with one message at a time
 * until a delivery succeeds, without punishing each source and without
 * rerouting its mail into other IPs. Pure, like lane.ts.
 */

export interface IncidentParams {
  /** Throttle reactions are grouped within this window. */
  readonly windowMs: number;
  /** At least this many distinct sources... */
  readonly minSources: number;
  /** ...and at least this share of the provider's sources in the config. */
  readonly share: number;
  readonly pauseMs: number;
  /** While probing, one message per this interval across the provider. */
  readonly probeIntervalMs: number;
}

/**
 * Windows after an incident in which no new one is declared (1 h with the
 * default 5 min window). The simulator showed why: without it, a pace set too
 * high for every IP looked like an incident again and again, each one forgave
 * the lanes, and they never slowed down (Gmail-like lane at 10 % of capacity;
 * with it, 44 %).
 */
export const INCIDENT_COOLDOWN_WINDOWS = 12;

export const DEFAULT_INCIDENT: IncidentParams = {
  windowMs: 300_000,
  minSources: 2,
  share: 0.5,
  pauseMs: 300_000,
  probeIntervalMs: 30_000,
};

export interface ProviderState {
  /** Recent throttle reactions: source name → time. */
  throttled: Record<string, number>;
  pauseUntil: number;
  /** 1 while the provider is being probed after an incident. */
  probing: number;
  probeAt: number;
  /**
   * When the last incident was declared. Within INCIDENT_COOLDOWN_WINDOWS
   * windows of it no new one is declared: lanes throttled again after an
   * incident are over their own limits (a configured pace too high for every
   * IP), and must slow down themselves rather than be forgiven again.
   */
  declaredAt: number;
}

export function emptyProvider(): ProviderState {
  return { throttled: {}, pauseUntil: 0, probing: 0, probeAt: 0, declaredAt: 0 };
}

/**
 * Records a throttle reaction of `source`. Returns whether this declared (or
 * prolonged) an incident, and which sources' reactions it explains.
 */
export function recordThrottle(
  prior: ProviderState,
  source: string,
  sources: number,
  now: number,
  p: IncidentParams = DEFAULT_INCIDENT,
): { state: ProviderState; incident: boolean; explained: string[] } {
  const throttled: Record<string, number> = {};
  for (const [name, at] of Object.entries(prior.throttled)) if (now - at < p.windowMs) throttled[name] = at;
  throttled[source] = now;
  const state: ProviderState = { ...prior, throttled };
  const count = Object.keys(throttled).length;
  const cooling = state.declaredAt !== 0 && now - state.declaredAt < INCIDENT_COOLDOWN_WINDOWS * p.windowMs;
  const declared = !cooling && count >= p.minSources && count >= Math.ceil(p.share * sources);
  if (!declared && state.probing === 0) return { state, incident: false, explained: [] };
  if (declared) state.declaredAt = now;
  state.pauseUntil = now + p.pauseMs;
  state.probing = 1;
  state.probeAt = state.pauseUntil;
  return { state, incident: true, explained: Object.keys(throttled).sort() };
}

/** null when the provider lets lanes decide; otherwise until when it holds everything back. */
export function providerGate(state: ProviderState, now: number): { at: number; probe: boolean } | null {
  if (state.pauseUntil > now) return { at: state.pauseUntil, probe: false };
  if (state.probing === 1) return { at: Math.max(state.probeAt, now), probe: true };
  return null;
}

/** Takes the provider's probe slot if it is due. */
export function takeProbe(
  prior: ProviderState,
  now: number,
  p: IncidentParams = DEFAULT_INCIDENT,
): { state: ProviderState; ok: boolean; at: number } {
  if (prior.probing !== 1 || prior.pauseUntil > now)
    return { state: prior, ok: prior.probing !== 1, at: prior.pauseUntil };
  if (prior.probeAt > now) return { state: prior, ok: false, at: prior.probeAt };
  return { state: { ...prior, probeAt: now + p.probeIntervalMs }, ok: true, at: now };
}

/** A delivery to the provider succeeded: the incident is over. */
export function providerDelivered(prior: ProviderState): ProviderState {
  return prior.probing === 1 ? { ...prior, probing: 0, probeAt: 0, pauseUntil: 0, throttled: {} } : prior;
}
