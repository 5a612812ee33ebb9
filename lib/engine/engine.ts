/**
 * The engine joins config, MX lookup and store: `decide()` answers "send now
 * from which source, or wait how long", `outcome()` records how a delivery
 * ended and reacts to the provider's reply. It knows nothing of Haraka; the
 * plugin adapts Haraka's calls to it.
 */

import { logText } from '../core/log-text';
import type { AcquireResult } from '../core/lane-state';
import type { Config, Pool, Source } from '../config/types';
import { rank } from '../core/rank';
import type { Control } from '../core/control';
import type { MxResolver } from './mx';
import { type Classifier, Outcomes } from './outcomes';
import type { LaneRef, PacingStore } from '../store/types';
import { WarmupLimits } from './warmup-limits';
import type { LeaseIdentity } from './lease-keeper';
import {
  bookedCandidate,
  type Candidate,
  type Ctx,
  laneCandidates,
  type Ranked,
  reachable,
  sooner,
  usable,
} from './candidates';
import { operatorPaused, OperatorControls, unpaused } from './controls';
import type { Decision, DecisionReason, Message, Ticket } from './decision';
import { waitDecision, waitingOf } from './delays';
import { incidentGate } from './incident-gate';
import { conclude } from './conclude';
import { Turns } from './turns';

// the engine's API, as before the split into decision, delays, controls and candidates
export { DECISION_REASONS } from './decision';
export type { Decision, DecisionReason, Message, Ticket } from './decision';
export { bookedDelaySeconds, delaySeconds, earlySeconds, PRECISE_MS, REPOLL_MAX_MS, REPOLL_MS } from './delays';
export { CONTROL_REFRESH_MS, CONTROL_REPOLL_MS } from './controls';

export class Engine {
  private turn = 0;

  /** What happens after an attempt (replies, reactions, leases, source health): its own part, shared by reference. */
  readonly outcomes: Outcomes;

  /** The operator controls this process obeys (lib/engine/controls.ts). */
  private readonly operator: OperatorControls;

  private readonly warmup: WarmupLimits;

  private readonly turns = new Turns();

  constructor(
    private config: Config,
    private readonly store: PacingStore,
    private readonly mx: MxResolver,
    private readonly clock: () => number = Date.now,
    classifier?: Classifier,
    identity?: LeaseIdentity,
  ) {
    this.outcomes = new Outcomes(config, store, clock, classifier, identity);
    this.warmup = new WarmupLimits(store);
    this.operator = new OperatorControls(store, clock);
  }

  /**
   * Told each control this process starts or stops obeying (set by the
   * plugin to log it): with Redis, every node's log says when a pause written
   * through the store reached it.
   */
  get controlLog(): ((text: string) => void) | undefined {
    return this.operator.log;
  }

  set controlLog(log: ((text: string) => void) | undefined) {
    this.operator.log = log;
  }

  /** The operator controls in force, read from the store at most every CONTROL_REFRESH_MS. */
  controls(): Promise<readonly Control[]> {
    return this.operator.list();
  }

  /** Forgets the cached controls and warm-up records: the next decision reads them (after an action through this process). */
  refreshControls(): void {
    this.operator.refresh();
    this.warmup.reset();
  }

  get current(): Config {
    return this.config;
  }

  /** This process's sources that reach no MX host (see lib/core/source-health.ts). */
  get health(): Outcomes['health'] {
    return this.outcomes.health;
  }

  /** The leases of this process's deliveries in flight. */
  get leases(): Outcomes['leases'] {
    return this.outcomes.leases;
  }

  /** Records an attempt's end (see Outcomes.outcome). */
  outcome(...args: Parameters<Outcomes['outcome']>): ReturnType<Outcomes['outcome']> {
    return this.outcomes.outcome(...args);
  }

  /** Renews the leases of the deliveries in flight (see Outcomes.renewLeases). */
  renewLeases(): Promise<number> {
    return this.outcomes.renewLeases();
  }

  /** Swaps the whole config at once (a reload); state in the store carries on. */
  reconfigure(config: Config, classifier?: Classifier): void {
    this.config = config;
    this.warmup.reset();
    this.outcomes.reconfigure(config, classifier);
    this.mx.reconfigure({
      cacheMaxMs: config.settings.dnsCacheMaxMs,
      negativeMs: config.settings.dnsNegativeMs,
      staticMx: config.staticMx,
    });
  }

  /** Resolves the pool a message asked for; an unknown name falls back to the default pool. */
  pool(name: string | undefined): { pool: Pool; note?: string } {
    const { pools, settings } = this.config;
    const asked = name ? pools.get(name) : undefined;
    const pool = asked ?? (pools.get(settings.defaultPool) as Pool);
    return name && !asked ? { pool, note: `unknown pool "${logText(name, 64)}", using "${pool.name}"` } : { pool };
  }

  async decide(msg: Message, ticket: Ticket): Promise<Decision> {
    const config = this.config;
    if (!config.settings.enabled) return { action: 'pass', reason: 'disabled', why: 'paceline disabled' };
    const answer = await this.mx.resolve(msg.domain);
    if (!answer.ok)
      return {
        action: 'pass',
        reason: 'mx_lookup',
        why: `MX lookup for ${logText(msg.domain)}: ${logText(answer.error)}; Haraka decides`,
      };
    const provider = config.matcher.match(answer.hosts.map((h) => h.host));
    const { pool, note } = this.pool(msg.pool);
    const sources = this.up(
      pool.sources.map((n) => config.sources.get(n) as Source).filter((s) => reachable(s, answer.hosts)),
    );
    if (sources.length === 0) {
      return {
        action: 'unroutable',
        provider,
        reason: 'ip_family',
        why: `no source of pool ${pool.name} shares an IP family with ${logText(msg.domain)}'s MX hosts`,
      };
    }
    const lanes = sources.map((s) => ({ source: s.name, provider }));
    const peek = await this.store.peek(lanes, provider);
    const { free: all, pause } = unpaused(
      await laneCandidates(this.warmup, this.config, sources, lanes, peek.value.lanes, provider, peek.now),
      await this.controls(),
      provider,
      peek.now,
    );
    if (pause) return operatorPaused(provider, pause, peek.now);
    const open = all.filter((c) => c.view.opensAt === undefined);
    const ctx: Ctx = {
      msg,
      ticket,
      provider,
      pool,
      candidates: open,
      hosts: answer.hosts,
      prefix: note ? `${note}; ` : '',
    };
    // a pool outside its active hours waits for them, whatever the provider's state
    if (open.length === 0) {
      const at = Math.min(...all.map((c) => c.view.opensAt as number));
      return this.wait(ctx, at, peek.now, 'active_hours', `outside the warm-up active hours of pool ${pool.name}`);
    }
    const { maxDelayMs, adapt } = config.settings;
    const gated = await incidentGate(ctx, peek.value.provider, peek.now, this.store, adapt.incident, maxDelayMs);
    if (gated) return gated;
    const reserved = ticket.reservation;
    const mine = bookedCandidate(ctx);
    if (reserved && mine && !sooner(ctx, mine, peek.now)) return this.claimReserved(ctx, mine, reserved);
    delete ticket.reservation;
    return this.choose(ctx, peek.now);
  }

  /** The sources not marked down in this process (see usable()). */
  private up(sources: readonly Source[]): readonly Source[] {
    const now = this.clock();
    return usable(sources, (name) => this.health.isDown(name, now));
  }

  /** A new lease's id (this node and boot) and time to live (lease_ttl; renewed while the delivery runs). */
  private newLease(): { leaseId: string; leaseMs: number } {
    return { leaseId: this.leases.newId(), leaseMs: this.config.settings.leaseTtlMs };
  }

  private async claimReserved(
    ctx: Ctx,
    c: Candidate,
    reserved: { lane: LaneRef; slot: number; epoch: number },
  ): Promise<Decision> {
    const req = { slot: reserved.slot, epoch: reserved.epoch, ...this.newLease() };
    const { now, value, recheckMs } = await this.store.claim(c.lane, c.view.limits, req);
    return this.conclude(ctx, c, value, now, 'reserved_slot', 'reserved slot', recheckMs);
  }

  private async choose(ctx: Ctx, now: number): Promise<Decision> {
    const order = this.rank(ctx.candidates, now);
    if ((order[0] as Ranked).at > now && ctx.pool.overflow === 'reroute') {
      const elsewhere = await this.overflow(ctx);
      if (elsewhere) return elsewhere;
    }
    const acquire = (c: Candidate, mode: 'now' | 'reserve') =>
      this.store.acquire(c.lane, c.view.limits, { mode, ...this.newLease() });
    // A lone candidate: book it at once (a free slot is granted, else the next one is booked).
    if (order.length === 1) {
      const res = await acquire((order[0] as Ranked).c, 'reserve');
      return this.conclude(ctx, (order[0] as Ranked).c, res.value, res.now, 'free_slot', 'free slot', res.recheckMs);
    }
    // Free candidates take a slot now or not at all: one that another delivery took in between
    // says when it is free next, and the booking goes to whichever candidate is free soonest,
    // never to the last-ranked one by default (a warming source's next slot can be 30 min away).
    const freeAt = new Map<Candidate, number>(order.map(({ c, at }) => [c, at]));
    for (const { c, at } of order) {
      if (at > now) break;
      const res = await acquire(c, 'now');
      if (res.value.kind !== 'wait')
        return this.conclude(ctx, c, res.value, res.now, 'free_slot', 'free slot', res.recheckMs);
      freeAt.set(c, res.value.at);
    }
    // ties keep the rank order (the sort is stable)
    const [soonest] = [...freeAt].sort((x, y) => x[1] - y[1])[0] as [Candidate, number];
    const res = await acquire(soonest, 'reserve');
    return this.conclude(ctx, soonest, res.value, res.now, 'free_slot', 'free slot', res.recheckMs);
  }

  /**
   * No source of the pool can send now: a source of the overflow pool that
   * can, else the overflow relay. Null when neither takes the message.
   */
  private async overflow(ctx: Ctx): Promise<Decision | null> {
    const { pool } = ctx;
    const spare = pool.overflowPool ? this.config.pools.get(pool.overflowPool) : undefined;
    if (spare) {
      const sources = this.up(
        spare.sources.map((n) => this.config.sources.get(n) as Source).filter((s) => reachable(s, ctx.hosts)),
      );
      const lanes = sources.map((s) => ({ source: s.name, provider: ctx.provider }));
      const peek = await this.store.peek(lanes, ctx.provider);
      const all = await laneCandidates(
        this.warmup,
        this.config,
        sources,
        lanes,
        peek.value.lanes,
        ctx.provider,
        peek.now,
      );
      const cands = unpaused(all, await this.controls(), ctx.provider, peek.now).free.filter(
        (c) => c.view.opensAt === undefined,
      );
      for (const { c, at } of this.rank(cands, peek.now)) {
        if (at > peek.now) break;
        const res = await this.store.acquire(c.lane, c.view.limits, { mode: 'now', ...this.newLease() });
        if (res.value.kind === 'granted')
          return this.conclude(ctx, c, res.value, res.now, 'overflow', `overflow from pool ${pool.name}: free slot`);
      }
    }
    if (!pool.overflowRelay) return null;
    const relay = pool.overflowRelay;
    const hosts = [{ host: relay.host, priority: 0, port: relay.port, v4: [], v6: [] }];
    const source: Source = { name: `relay:${relay.host}`, limits: new Map(), poolLimits: new Map() };
    return {
      action: 'send',
      source,
      provider: ctx.provider,
      hosts,
      relay: true,
      reason: 'relay',
      why: `${ctx.prefix}overflow from pool ${pool.name} to relay ${relay.host}:${relay.port}`,
    };
  }

  /** The candidates in rank order (lib/core/rank.ts). */
  private rank(candidates: readonly Candidate[], now: number): Ranked[] {
    return rank(
      candidates,
      (c) => ({ state: c.state, limits: c.view.limits, warming: c.view.warm !== undefined }),
      now,
      this.turn++,
    );
  }

  /** conclude() (lib/engine/conclude.ts), keeping a granted lease alive while the delivery runs. */
  private conclude(
    ctx: Ctx,
    c: Candidate,
    result: AcquireResult,
    now: number,
    how: DecisionReason,
    what: string,
    recheckMs = 0,
  ): Decision {
    if (result.kind === 'wait' && result.reason === 'concurrency')
      return this.waitTurn(ctx, c, result.at, now, recheckMs);
    this.turns.forget(ctx.ticket);
    const { leaseMs, maxDelayMs } = this.config.settings;
    if (result.kind === 'granted') this.leases.keep(result.leaseId, c.lane, now + leaseMs);
    return conclude(ctx, c, result, now, how, what, maxDelayMs, recheckMs);
  }

  /** The lane is full: come back on this message's turn (lib/core/turn.ts), exactly (held in-process for the rest). */
  private waitTurn(ctx: Ctx, c: Candidate, freeAt: number, now: number, recheckMs: number): Decision {
    const { leaseTtlMs } = this.config.settings;
    const turn = this.turns.next(ctx.ticket, c.lane, c.state, c.view.limits, leaseTtlMs, now, freeAt);
    const reason = `concurrency limit on ${c.source.name}, turn ${turn.at === turn.due ? 'booked' : 'come, lane still full'}`;
    return this.wait(ctx, turn.at, now, 'concurrency', reason, true, recheckMs);
  }

  /** waitDecision() for this message (see lib/engine/delays.ts). */
  private wait(
    ctx: Ctx,
    at: number,
    now: number,
    code: DecisionReason,
    reason: string,
    booked = false,
    recheckMs = 0,
  ): Decision {
    return waitDecision(waitingOf(ctx, this.config.settings.maxDelayMs), at, now, code, reason, booked, recheckMs);
  }
}
