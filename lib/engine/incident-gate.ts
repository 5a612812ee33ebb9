/**
 * A provider-wide incident (lib/core/provider-state.ts) as a decision sees
 * it: mail waits out the provider's pause, then one probe message at a time
 * goes, and only one that could leave now takes the probe.
 */

import { type IncidentParams, providerGate, type ProviderState } from '../core/provider-state';
import type { PacingStore } from '../store/types';
import { type Ctx, readyAt } from './candidates';
import type { Decision, DecisionReason } from './decision';
import { waitDecision, waitingOf } from './delays';

/** During a provider-wide incident: wait out the pause, then let one probe through at a time. */
export async function incidentGate(
  ctx: Ctx,
  state: ProviderState,
  now: number,
  store: PacingStore,
  params: IncidentParams,
  maxDelayMs: number,
): Promise<Decision | null> {
  const wait = (at: number, from: number, code: DecisionReason, reason: string, booked = false) =>
    waitDecision(waitingOf(ctx, maxDelayMs), at, from, code, reason, booked);
  delete ctx.ticket.probe;
  const gate = providerGate(state, now);
  if (!gate) return null;
  if (gate.probe) {
    // only a message that could leave now takes the probe: one booked for later would waste it
    const ready = readyAt(ctx, now);
    if (ready > now) {
      const booked = ctx.ticket.reservation !== undefined;
      return wait(ready, now, 'provider_probe', `provider ${ctx.provider} probing after an incident`, booked);
    }
    const probe = await store.providerProbe(ctx.provider, params);
    if (probe.value.ok) {
      ctx.ticket.probe = true;
      return null;
    }
    return wait(probe.value.at, probe.now, 'provider_probe', `provider ${ctx.provider} probing after an incident`);
  }
  return wait(gate.at, now, 'provider_incident', `provider ${ctx.provider} paused (provider-wide incident)`);
}
