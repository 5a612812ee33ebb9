/**
 * The engine joins config, MX lookup and store: `decide()` answers "send now
 * from which source, or wait how long", `outcome()` records how a delivery
 * ended and reacts to the provider's reply. It knows nothing of Haraka; the
 * plugin adapts Haraka's calls to it.
 */

import { logText } from '../core/log-text';
import { realTime } from '../core/pace';
import { type AcquireResult, earliestAt, type LaneLimits, type LaneState, type WaitReason } from '../core/lane';
import { providerGate } from '../core/provider-state';
import { starting } from '../core/start';
import type { Config, Pool, Source } from '../config/types';
import { rank } from '../core/rank';
import { type Control, describeTarget, pauseOn, targetKey } from '../core/control';
import type { MxHost, MxResolver } from './mx';
import { type Classifier, Outcomes } from './outcomes';
import type { LaneRef, PacingStore } from '../store/types';
import { type LaneView, plainLaneView, WarmupLimits } from './warmup-limits';
import type { LeaseIdentity } from './lease-keeper';
import { type LaneTurn, Turns } from './turns';

/** What the engine remembers about one message between hooks. */
export interface Ticket {
  /** A booked future rate slot: come back at `at` and send from `lane.source`. */
  reservation?: { lane: LaneRef; at: number; slot: number; epoch: number };
  /** The delivery in flight. */
  lease?: { lane: LaneRef; limits: LaneLimits; id: string; startedAt: number };
  /** Set when this message is a provider's incident probe. */
  probe?: boolean;
  /** Its turn for a concurrency slot on a full lane (lib/core/turn.ts). */
  turn?: LaneTurn;
}

export interface Message {
  readonly id: string;
  readonly domain: string;
  /** Epoch ms the message was queued (Haraka's todo.queue_time). */
  readonly queueTime: number;
  /** Pool asked for by note or header; undefined = default pool. */
  readonly pool?: string;
}

/**
 * Why a decision was taken, as one word from a fixed list (metrics label it;
 * `why` is the sentence for logs): how a message was sent, or what held it.
 */
export type DecisionReason =
  | 'free_slot'
  | 'reserved_slot'
  | 'overflow'
  | 'relay'
  | WaitReason
  | 'active_hours'
  | 'provider_incident'
  | 'provider_probe'
  | 'operator_pause'
  | 'max_hold'
  | 'disabled'
  | 'mx_lookup'
  | 'ip_family';

/** Every DecisionReason once (a Record, so the compiler checks the list is complete). */
const REASONS: Readonly<Record<DecisionReason, true>> = {
  free_slot: true,
  reserved_slot: true,
  overflow: true,
  relay: true,
  rate: true,
  concurrency: true,
  daily: true,
  paused: true,
  blocked: true,
  store: true,
  active_hours: true,
  provider_incident: true,
  provider_probe: true,
  operator_pause: true,
  max_hold: true,
  disabled: true,
  mx_lookup: true,
  ip_family: true,
};

/** Every DecisionReason, for tests and docs. */
export const DECISION_REASONS = Object.keys(REASONS) as readonly DecisionReason[];

interface Why {
  readonly why: string;
  readonly reason: DecisionReason;
}

export type Decision =
  | ({
      readonly action: 'send';
      readonly source: Source;
      readonly provider: string;
      readonly hosts: readonly MxHost[];
      readonly relay?: boolean;
    } & Why)
  | ({ readonly action: 'delay'; readonly seconds: number; readonly provider: string } & Why)
  | ({ readonly action: 'hold'; readonly ms: number; readonly provider: string } & Why)
  | ({ readonly action: 'expire'; readonly provider: string } & Why)
  | ({ readonly action: 'pass' } & Why)
  | ({ readonly action: 'unroutable'; readonly provider: string } & Why);

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
 * on a lane in its start phase (lib/core/start.ts) the pace may double every
 * start interval, and a slot the local fallback booked while the shared store
 * was away gives way to the shared pace when it is back. Such a message comes
 * back at least every `recheckMs`, or the lane would wait for messages booked
 * at a pace it has left.
 */
export function bookedDelaySeconds(at: number, now: number, recheckMs = 0): number {
  if (recheckMs > 0 && at - now > recheckMs + PRECISE_MS) return Math.max(1, Math.floor(recheckMs / 1000));
  return at - now > REPOLL_MS ? Math.floor(Math.min(at - now, 2 * REPOLL_MAX_MS) / 2000) : earlySeconds(at, now);
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
  /** Sources of the pool that can reach the MX hosts, with their limits today. */
  readonly candidates: readonly Candidate[];
  readonly hosts: readonly MxHost[];
  readonly prefix: string;
}

/** A candidate with the earliest time its lane could take a message. */
interface Ranked {
  readonly c: Candidate;
  readonly at: number;
}

interface Candidate {
  readonly source: Source;
  readonly lane: LaneRef;
  readonly state: LaneState;
  readonly view: LaneView;
}

/** The candidate whose lane holds the message's booked slot, if it has one for this provider. */
function bookedCandidate(ctx: Ctx): Candidate | undefined {
  const reserved = ctx.ticket.reservation;
  return reserved && reserved.lane.provider === ctx.provider
    ? ctx.candidates.find((c) => c.source.name === reserved.lane.source)
    : undefined;
}

/**
 * Whether a message booked on a paused lane can leave now from another
 * source of its pool: a lane the provider keeps refusing (a rule bug on one
 * IP, a penalty) must not hold the mail booked on it while other IPs are free.
 * Only paused lanes give their bookings up, and only to a lane free now: a
 * booking given up for a later one would join the back of that lane's queue.
 */
function sooner(ctx: Ctx, mine: Candidate, now: number): boolean {
  if (mine.state.pauseUntil <= now) return false;
  return ctx.candidates.some((c) => c !== mine && earliestAt(c.state, c.view.limits, now) <= now);
}

/** The engine reads the operator controls from the store at most this often (a pause reaches every node within it). */
export const CONTROL_REFRESH_MS = 500;

/** Mail held by an operator pause comes back at least this often (a resume takes effect within it). */
export const CONTROL_REPOLL_MS = 10_000;

/** A control in one log line: what, until when, by whom, why. */
function controlText(c: Control): string {
  const until = c.until === 0 ? 'until resumed' : `until ${new Date(c.until).toISOString()}`;
  return `${c.action} ${describeTarget(c.target)} ${until} by ${c.who}${c.reason ? `: ${c.reason}` : ''}`;
}

/** The candidates no operator pause covers, or the pause that holds back all of them. */
function unpaused(
  all: readonly Candidate[],
  controls: readonly Control[],
  provider: string,
  now: number,
): { free: Candidate[]; pause?: Control } {
  if (controls.length === 0) return { free: [...all] };
  const free: Candidate[] = [];
  let pause: Control | undefined;
  for (const c of all) {
    const p = pauseOn(controls, c.source.name, provider, now);
    if (!p) free.push(c);
    else if (!pause || (pause.until !== 0 && (p.until === 0 || p.until < pause.until))) pause = p;
  }
  return free.length > 0 ? { free } : { free, ...(pause ? { pause } : {}) };
}

export class Engine {
  private turn = 0;

  /** What happens after an attempt (replies, reactions, leases, source health): its own part, shared by reference. */
  readonly outcomes: Outcomes;

  private controlCache: { at: number; list: readonly Control[] } | undefined;

  private controlRead: Promise<readonly Control[]> | undefined;

  /** The controls this process last read, by target key and start: what a change is measured against. */
  private controlSeen = new Map<string, Control>();

  /**
   * Told each control this process starts or stops obeying (set by the
   * plugin to log it): with Redis, every node's log says when a pause written
   * through the store reached it.
   */
  controlLog?: (text: string) => void;

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
    const sources = this.usable(
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
      await this.candidates(pool, sources, lanes, peek.value.lanes, provider, peek.now),
      await this.controls(),
      provider,
      peek.now,
    );
    if (pause) return this.operatorPaused(provider, pause, peek.now);
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
    const held = await this.providerHold(ctx, peek.value.provider, peek.now);
    if (held) return held;
    const reserved = ticket.reservation;
    const mine = bookedCandidate(ctx);
    if (reserved && mine && !sooner(ctx, mine, peek.now)) return this.claimReserved(ctx, mine, reserved);
    delete ticket.reservation;
    return this.choose(ctx, peek.now);
  }

  /** The sources not marked down in this process; all of them when every one is down (a mark never stops mail). */
  private usable(sources: readonly Source[]): readonly Source[] {
    const now = this.clock();
    const up = sources.filter((s) => !this.health.isDown(s.name, now));
    return up.length > 0 ? up : sources;
  }

  /**
   * The operator controls in force, read from the store at most every
   * CONTROL_REFRESH_MS (one read shared by the decisions waiting for it).
   */
  async controls(): Promise<readonly Control[]> {
    const now = this.clock();
    if (this.controlCache && now - this.controlCache.at < CONTROL_REFRESH_MS) return this.controlCache.list;
    this.controlRead ??= this.store.controls().then(
      ({ value }) => {
        this.controlCache = { at: this.clock(), list: value };
        this.controlRead = undefined;
        this.noteControls(value);
        return value;
      },
      (err: unknown) => {
        this.controlRead = undefined;
        throw err;
      },
    );
    return this.controlRead;
  }

  private noteControls(list: readonly Control[]): void {
    const next = new Map(list.map((c) => [`${targetKey(c.target)}@${c.at}`, c]));
    if (this.controlLog) {
      for (const [key, c] of next)
        if (!this.controlSeen.has(key)) this.controlLog(`paceline: operator control in force: ${controlText(c)}`);
      for (const [key, c] of this.controlSeen)
        if (!next.has(key)) this.controlLog(`paceline: operator control ended: ${controlText(c)}`);
    }
    this.controlSeen = next;
  }

  /** Forgets the cached controls and warm-up records: the next decision reads them (after an action through this process). */
  refreshControls(): void {
    this.controlCache = undefined;
    this.warmup.reset();
  }

  /**
   * Every candidate lane is paused by an operator: wait for the pause to end,
   * coming back at least every CONTROL_REPOLL_MS for a resume. The operator
   * decides how long mail waits: max_hold does not bounce it meanwhile.
   */
  private operatorPaused(provider: string, pause: Control, now: number): Decision {
    const at = pause.until === 0 ? now + CONTROL_REPOLL_MS : Math.min(pause.until, now + CONTROL_REPOLL_MS);
    const by = `${describeTarget(pause.target)} paused by ${pause.who}${pause.reason ? ` (${pause.reason})` : ''}`;
    const ends = pause.until === 0 ? 'until resumed' : `until ${new Date(pause.until).toISOString()}`;
    return {
      action: 'delay',
      seconds: delaySeconds(at, now),
      provider,
      reason: 'operator_pause',
      why: `${by} ${ends}`,
    };
  }

  /** The candidates with their limits today; only warming sources need the store (and a promise). */
  private async candidates(
    pool: Pool,
    sources: readonly Source[],
    lanes: readonly LaneRef[],
    states: readonly LaneState[],
    provider: string,
    now: number,
  ): Promise<Candidate[]> {
    const warming = sources.map((source, i) => this.warmup.warmView(this.config, source, provider, now, states[i]));
    const views: ReadonlyArray<LaneView | undefined> = warming.some((w) => w !== undefined)
      ? await Promise.all(warming)
      : [];
    return sources.map((source, i) => ({
      source,
      lane: lanes[i] as LaneRef,
      state: states[i] as LaneState,
      view: views[i] ?? plainLaneView(this.config, source.name, provider, now),
    }));
  }

  /** During a provider-wide incident: wait out the pause, then let one probe through at a time. */
  private async providerHold(
    ctx: Ctx,
    state: Parameters<typeof providerGate>[0],
    now: number,
  ): Promise<Decision | null> {
    delete ctx.ticket.probe;
    const gate = providerGate(state, now);
    if (!gate) return null;
    if (gate.probe) {
      // only a message that could leave now takes the probe: one booked for later would waste it
      const ready = this.readyAt(ctx, now);
      if (ready > now) {
        const booked = ctx.ticket.reservation !== undefined;
        return this.wait(
          ctx,
          ready,
          now,
          'provider_probe',
          `provider ${ctx.provider} probing after an incident`,
          booked,
        );
      }
      const probe = await this.store.providerProbe(ctx.provider, this.config.settings.adapt.incident);
      if (probe.value.ok) {
        ctx.ticket.probe = true;
        return null;
      }
      return this.wait(
        ctx,
        probe.value.at,
        probe.now,
        'provider_probe',
        `provider ${ctx.provider} probing after an incident`,
      );
    }
    return this.wait(
      ctx,
      gate.at,
      now,
      'provider_incident',
      `provider ${ctx.provider} paused (provider-wide incident)`,
    );
  }

  /** When this message could leave (from the peeked states): its booked slot, else the soonest-free candidate. */
  private readyAt(ctx: Ctx, now: number): number {
    const reserved = ctx.ticket.reservation;
    const mine = bookedCandidate(ctx);
    if (reserved && mine && mine.view.limits.rate) return Math.max(now, realTime(mine.state, reserved.slot));
    return Math.min(...ctx.candidates.map((c) => earliestAt(c.state, c.view.limits, now)));
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
      const sources = this.usable(
        spare.sources.map((n) => this.config.sources.get(n) as Source).filter((s) => reachable(s, ctx.hosts)),
      );
      const lanes = sources.map((s) => ({ source: s.name, provider: ctx.provider }));
      const peek = await this.store.peek(lanes, ctx.provider);
      const all = await this.candidates(spare, sources, lanes, peek.value.lanes, ctx.provider, peek.now);
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

  /** `recheckMs`: the store's (see StoreResult); a lane in its start phase rechecks every start interval. */
  private conclude(
    ctx: Ctx,
    c: Candidate,
    result: AcquireResult,
    now: number,
    how: DecisionReason,
    what: string,
    recheckMs = 0,
  ): Decision {
    const { source, lane } = c;
    if (result.kind === 'wait' && result.reason === 'concurrency')
      return this.waitTurn(ctx, c, result.at, now, recheckMs);
    this.turns.forget(ctx.ticket);
    if (result.kind === 'granted') {
      delete ctx.ticket.reservation;
      ctx.ticket.lease = { lane, limits: c.view.limits, id: result.leaseId, startedAt: now };
      this.leases.keep(result.leaseId, lane, now + this.config.settings.leaseMs);
      const probe = ctx.ticket.probe ? ' (provider probe)' : '';
      const warm = c.view.warm
        ? ` (warm-up ${c.view.warm.schedule} day ${c.view.warm.day}, cap ${c.view.warm.cap})`
        : '';
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
    return this.wait(ctx, result.at, now, code, reason, booked, every.length > 0 ? Math.min(...every) : 0);
  }

  /** The lane is full: come back on this message's turn (lib/core/turn.ts), exactly (held in-process for the rest). */
  private waitTurn(ctx: Ctx, c: Candidate, freeAt: number, now: number, recheckMs: number): Decision {
    const { leaseTtlMs } = this.config.settings;
    const turn = this.turns.next(ctx.ticket, c.lane, c.state, c.view.limits, leaseTtlMs, now, freeAt);
    const reason = `concurrency limit on ${c.source.name}, turn ${turn.at === turn.due ? 'booked' : 'come, lane still full'}`;
    return this.wait(ctx, turn.at, now, 'concurrency', reason, true, recheckMs);
  }

  /** Delay until `at`, but never past max_hold; a message already past it expires. */
  /** `recheckMs`: how often a booked message comes back, when its slot may come nearer (see bookedDelaySeconds). */
  private wait(
    ctx: Ctx,
    at: number,
    now: number,
    code: DecisionReason,
    reason: string,
    booked = false,
    recheckMs = 0,
  ): Decision {
    const holdUntil = ctx.msg.queueTime + this.config.settings.maxHoldMs;
    if (now >= holdUntil) {
      return {
        action: 'expire',
        provider: ctx.provider,
        reason: 'max_hold',
        why: `held by pacing since ${new Date(ctx.msg.queueTime).toISOString()} (${reason}), beyond max_hold`,
      };
    }
    if (booked && at <= holdUntil) {
      if (at - now <= PRECISE_MS)
        return {
          action: 'hold',
          ms: Math.max(0, at - now),
          provider: ctx.provider,
          reason: code,
          why: `${ctx.prefix}${reason}, leaving in ${at - now} ms`,
        };
      const early = bookedDelaySeconds(at, now, recheckMs);
      return {
        action: 'delay',
        seconds: early,
        provider: ctx.provider,
        reason: code,
        why: `${ctx.prefix}${reason}, next slot in ${Math.ceil((at - now) / 1000)}s (back in ${early}s)`,
      };
    }
    const seconds = delaySeconds(Math.min(at, holdUntil), now);
    return {
      action: 'delay',
      seconds,
      provider: ctx.provider,
      reason: code,
      why: `${ctx.prefix}${reason}, next slot in ${seconds}s`,
    };
  }
}
