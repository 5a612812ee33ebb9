/**
 * The engine joins config, MX lookup and store: `decide()` answers "send now
 * from which source, or wait how long", `outcome()` records how a delivery
 * ended and reacts to the provider's reply. It knows nothing of Haraka; the
 * plugin adapts Haraka's calls to it.
 */

import { randomUUID } from 'node:crypto';
import { earliestAt, type AcquireResult, type LaneState } from './core/lane';
import { providerGate } from './core/provider-state';
import { laneLimits } from './config/lane-limits';
import type { Config, Pool, Source } from './config/types';
import type { MxHost, MxResolver } from './mx';
import { Outcomes, type Classifier } from './outcomes';
import type { LaneRef, PacingStore } from './store/types';

/** What the engine remembers about one message between hooks. */
export interface Ticket {
  /** A booked future rate slot: come back at `at` and send from `lane.source`. */
  reservation?: { lane: LaneRef; at: number; epoch: number };
  /** The delivery in flight. */
  lease?: { lane: LaneRef; pool: string; id: string; startedAt: number };
  /** Set when this message is a provider's incident probe. */
  probe?: boolean;
}

export interface Message {
  readonly id: string;
  readonly domain: string;
  /** Epoch ms the message was queued (Haraka's todo.queue_time). */
  readonly queueTime: number;
  /** Pool asked for by note or header; undefined = default pool. */
  readonly pool?: string;
}

export type Decision =
  | { readonly action: 'send'; readonly source: Source; readonly provider: string; readonly hosts: readonly MxHost[]; readonly why: string }
  | { readonly action: 'delay'; readonly seconds: number; readonly provider: string; readonly why: string }
  | { readonly action: 'expire'; readonly provider: string; readonly why: string }
  | { readonly action: 'pass'; readonly why: string }
  | { readonly action: 'unroutable'; readonly provider: string; readonly why: string };

/** Whole seconds from `now` until `at`: a finite integer ≥ 1, as Haraka's DELAY needs. */
export function delaySeconds(at: number, now: number): number {
  const s = Math.ceil((at - now) / 1000);
  return Number.isFinite(s) && s >= 1 ? s : 1;
}

function reachable(source: Source, hosts: readonly MxHost[]): boolean {
  if (!source.family) return true;
  return hosts.some((h) => (source.family === 6 ? h.v6 : h.v4).length > 0);
}

interface Ctx {
  readonly msg: Message;
  readonly ticket: Ticket;
  readonly provider: string;
  readonly pool: Pool;
  readonly candidates: readonly Source[];
  readonly hosts: readonly MxHost[];
  readonly prefix: string;
}

export class Engine extends Outcomes {
  private turn = 0;

  constructor(config: Config, store: PacingStore, private readonly mx: MxResolver, clock: () => number = Date.now, classifier?: Classifier) {
    super(config, store, clock, classifier);
  }

  /** Swaps the whole config at once (a reload); state in the store carries on. */
  reconfigure(config: Config, classifier?: Classifier): void {
    this.config = config;
    if (classifier) this.classifier = classifier;
    this.mx.reconfigure({ cacheMaxMs: config.settings.dnsCacheMaxMs, negativeMs: config.settings.dnsNegativeMs, staticMx: config.staticMx });
  }

  /** Resolves the pool a message asked for; an unknown name falls back to the default pool. */
  pool(name: string | undefined): { pool: Pool; note?: string } {
    const { pools, settings } = this.config;
    const asked = name ? pools.get(name) : undefined;
    const pool = asked ?? (pools.get(settings.defaultPool) as Pool);
    return name && !asked ? { pool, note: `unknown pool "${name}", using "${pool.name}"` } : { pool };
  }

  async decide(msg: Message, ticket: Ticket): Promise<Decision> {
    const config = this.config;
    if (!config.settings.enabled) return { action: 'pass', why: 'paceline disabled' };
    const answer = await this.mx.resolve(msg.domain);
    if (!answer.ok) return { action: 'pass', why: `MX lookup for ${msg.domain}: ${answer.error}; Haraka decides` };
    const provider = config.matcher.match(answer.hosts.map((h) => h.host));
    const { pool, note } = this.pool(msg.pool);
    const candidates = pool.sources.map((n) => config.sources.get(n) as Source).filter((s) => reachable(s, answer.hosts));
    if (candidates.length === 0) {
      return { action: 'unroutable', provider, why: `no source of pool ${pool.name} shares an IP family with ${msg.domain}'s MX hosts` };
    }
    const ctx: Ctx = { msg, ticket, provider, pool, candidates, hosts: answer.hosts, prefix: note ? `${note}; ` : '' };
    const lanes = candidates.map((s) => ({ source: s.name, provider }));
    const peek = await this.store.peek(lanes, provider);
    const held = await this.providerHold(ctx, peek.value.provider, peek.now);
    if (held) return held;
    const reserved = ticket.reservation;
    if (reserved && reserved.lane.provider === provider && candidates.some((c) => c.name === reserved.lane.source)) {
      return this.claimReserved(ctx, reserved);
    }
    delete ticket.reservation;
    return this.choose(ctx, lanes, peek.value.lanes, peek.now);
  }

  /** During a provider-wide incident: wait out the pause, then let one probe through at a time. */
  private async providerHold(ctx: Ctx, state: Parameters<typeof providerGate>[0], now: number): Promise<Decision | null> {
    delete ctx.ticket.probe;
    const gate = providerGate(state, now);
    if (!gate) return null;
    if (gate.probe) {
      const probe = await this.store.providerProbe(ctx.provider, this.config.settings.adapt.incident);
      if (probe.value.ok) {
        ctx.ticket.probe = true;
        return null;
      }
      return this.wait(ctx, probe.value.at, probe.now, `provider ${ctx.provider} probing after an incident`);
    }
    return this.wait(ctx, gate.at, now, `provider ${ctx.provider} paused (provider-wide incident)`);
  }

  private async claimReserved(ctx: Ctx, reserved: { lane: LaneRef; at: number; epoch: number }): Promise<Decision> {
    const limits = laneLimits(this.config, ctx.pool.name, reserved.lane.source, ctx.provider);
    const leaseId = randomUUID();
    const req = { reservedAt: reserved.at, epoch: reserved.epoch, leaseId, leaseMs: this.config.settings.leaseMs };
    const { now, value } = await this.store.claim(reserved.lane, limits, req);
    const source = ctx.candidates.find((c) => c.name === reserved.lane.source) as Source;
    return this.conclude(ctx, source, value, now, 'reserved slot');
  }

  private async choose(ctx: Ctx, lanes: readonly LaneRef[], states: readonly LaneState[], now: number): Promise<Decision> {
    const order = this.rank(ctx, states, now);
    for (const i of order) {
      const source = ctx.candidates[i] as Source;
      const limits = laneLimits(this.config, ctx.pool.name, source.name, ctx.provider);
      const last = i === order[order.length - 1];
      const mode = last || earliestAt(states[i] as LaneState, limits, now) > now ? 'reserve' : 'now';
      const res = await this.store.acquire(lanes[i] as LaneRef, limits, { mode, leaseId: randomUUID(), leaseMs: this.config.settings.leaseMs });
      if (res.value.kind !== 'wait' || mode === 'reserve') return this.conclude(ctx, source, res.value, res.now, 'free slot');
    }
    throw new Error('unreachable: the last candidate always concludes');
  }

  /** Candidate indexes, soonest-free first; ties go to the most headroom, the least busy, then round robin. */
  private rank(ctx: Ctx, states: readonly LaneState[], now: number): number[] {
    const start = this.turn++ % ctx.candidates.length;
    const scored = ctx.candidates.map((s, i) => {
      const state = states[i] as LaneState;
      const limits = laneLimits(this.config, ctx.pool.name, s.name, ctx.provider);
      const rotation = (i - start + ctx.candidates.length) % ctx.candidates.length;
      return { i, at: earliestAt(state, limits, now), tat: state.tat, busy: state.leases.length, rotation };
    });
    scored.sort((a, b) => a.at - b.at || a.tat - b.tat || a.busy - b.busy || a.rotation - b.rotation);
    return scored.map((s) => s.i);
  }

  private conclude(ctx: Ctx, source: Source, result: AcquireResult, now: number, what: string): Decision {
    const lane = { source: source.name, provider: ctx.provider };
    if (result.kind === 'granted') {
      delete ctx.ticket.reservation;
      ctx.ticket.lease = { lane, pool: ctx.pool.name, id: result.leaseId, startedAt: now };
      const probe = ctx.ticket.probe ? ' (provider probe)' : '';
      return { action: 'send', source, provider: ctx.provider, hosts: ctx.hosts, why: `${ctx.prefix}${what} on ${source.name}${probe}` };
    }
    if (result.kind === 'reserved') ctx.ticket.reservation = { lane, at: result.at, epoch: result.epoch };
    const reason = result.kind === 'reserved' ? `reserved rate slot on ${source.name}` : `${result.reason} limit on ${source.name}`;
    return this.wait(ctx, result.at, now, reason);
  }

  /** Delay until `at`, but never past max_hold; a message already past it expires. */
  private wait(ctx: Ctx, at: number, now: number, reason: string): Decision {
    const holdUntil = ctx.msg.queueTime + this.config.settings.maxHoldMs;
    if (now >= holdUntil) {
      return { action: 'expire', provider: ctx.provider, why: `held by pacing since ${new Date(ctx.msg.queueTime).toISOString()} (${reason}), beyond max_hold` };
    }
    const seconds = delaySeconds(Math.min(at, holdUntil), now);
    return { action: 'delay', seconds, provider: ctx.provider, why: `${ctx.prefix}${reason}, next slot in ${seconds}s` };
  }
}
