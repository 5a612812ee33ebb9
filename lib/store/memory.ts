/**
 * The embedded store: pacing state in this process's memory. Right for one
 * Haraka process; the plugin refuses it under cluster mode with several
 * workers, where each would keep its own limits and multiply them. Its state
 * can be taken out and put back (`snapshot`, `restore`) so that it survives a
 * restart (lib/store/memory-file.ts), and the lanes it keeps idle are capped.
 */

import { react, type ReactEvent, type ReactParams } from '../core/adapt';
import { emptyLane, type AcquireRequest, type ClaimRequest, type LaneLimits, type LaneState } from '../core/lane-state';
import { nextFreeAt } from '../core/throttle';
import { acquire, claim, release } from '../core/lane';
import { dropEarlierBoots, renewLeases } from '../core/lease';
import {
  emptyProvider,
  providerDelivered,
  recordThrottle,
  takeProbe,
  type IncidentParams,
  type ProviderState,
} from '../core/provider-state';
import { dayNumber } from '../core/day';
import type { WarmRecord } from '../core/warmup';
import {
  type Control,
  type ControlRequest,
  type ControlTarget,
  inForce,
  liftLane,
  liftProvider,
  makeControl,
  resetPace,
  targetKey,
} from '../core/control';
import {
  laneKey,
  type LaneReason,
  type LaneRef,
  type PacingStore,
  type ProcessReport,
  type StoreResult,
} from './types';
import { addTally, type TallyFields } from '../core/tally';
import { dayNames, HISTORY_MIN_DAYS } from '../core/history';
import { MemoryHistory } from './memory-history';

/** Idle lanes (no leases, no future slot, no reaction in force) older than this are dropped. */
const IDLE_MS = 2 * 86_400_000;

/** Default of `[memory] max_idle_lanes`: about 75 MB of heap at ~740 bytes a lane. */
export const DEFAULT_MAX_IDLE_LANES = 100_000;

/**
 * A lane as the memory store keeps it. `dayOffsetMs` is set when the lane's
 * limits had a per-day cap at its last step: its day count must then outlive idleness.
 */
export interface MemoryLane {
  readonly lane: LaneRef;
  readonly state: LaneState;
  /** Last step on the lane (epoch ms). */
  readonly touched: number;
  readonly dayOffsetMs?: number;
}

/** Everything the memory store holds, as plain data (leases included; the file leaves them out). */
export interface MemorySnapshot {
  readonly lanes: readonly MemoryLane[];
  readonly providers: ReadonlyArray<readonly [string, ProviderState]>;
  readonly hits: ReadonlyArray<readonly [string, readonly number[]]>;
  readonly warm: ReadonlyArray<readonly [string, WarmRecord]>;
  readonly starts: ReadonlyArray<readonly [string, number]>;
}

export interface MemoryStoreOptions {
  /** Most idle lanes kept (see `isIdle`); the least recently used go first. */
  readonly maxIdleLanes?: number;
}

export class MemoryStore implements PacingStore {
  /** In order of last use, oldest first (a step moves its lane to the end). */
  private readonly states = new Map<string, MemoryLane>();
  private readonly providers = new Map<string, ProviderState>();
  private readonly hits = new Map<string, number[]>();
  private readonly warm = new Map<string, WarmRecord>();
  private readonly starts = new Map<string, number>();
  private readonly kept = new Map<string, Control>();
  private readonly maxIdleLanes: number;
  private readonly counts = new Map<string, TallyFields>();
  private readonly why = new Map<string, LaneReason>();
  /** Status reports by process id (not persisted: a restarted process publishes again). */
  private readonly board = new Map<string, ProcessReport>();
  private readonly history = new MemoryHistory();
  private lastSweep = 0;
  /** Lane count above which idle lanes are evicted: the busy lanes of the last eviction plus the cap. */
  private evictAbove: number;
  private changeCount = 0;

  /** `clock` returns epoch ms; tests inject a fake one. */
  constructor(
    private readonly clock: () => number = Date.now,
    options: MemoryStoreOptions = {},
  ) {
    this.maxIdleLanes = options.maxIdleLanes ?? DEFAULT_MAX_IDLE_LANES;
    this.evictAbove = this.maxIdleLanes;
  }

  /** Grows on every change of state: a persister writes when it moved. */
  get changes(): number {
    return this.changeCount;
  }

  /** Lanes kept now. */
  get laneCount(): number {
    return this.states.size;
  }

  private get(lane: LaneRef): LaneState {
    return this.states.get(laneKey(lane))?.state ?? emptyLane();
  }

  private put(lane: LaneRef, state: LaneState, now: number, limits?: LaneLimits): void {
    const key = laneKey(lane);
    const dayOffsetMs =
      limits?.perDay !== undefined && Number.isFinite(limits.perDay) ? (limits.dayOffsetMs ?? 0) : undefined;
    this.states.delete(key);
    this.states.set(key, { lane, state, touched: now, ...(dayOffsetMs !== undefined ? { dayOffsetMs } : {}) });
    this.changeCount++;
    if (now - this.lastSweep > 60_000) this.sweep(now);
    if (this.states.size > this.evictAbove) this.evictIdle(now);
  }

  /**
   * A lane that can be forgotten without changing any decision but its start
   * phase: no lease, no booked slot, no pause, cap, block or lowered pace in
   * force, no warm-up record, and no count toward today's per-day cap.
   */
  private isIdle(key: string, entry: MemoryLane, now: number): boolean {
    const s = entry.state;
    if (s.blockedAt !== 0 || s.factor < 1 || this.warm.has(key)) return false;
    if (s.leases.some((l) => l.expiresAt > now)) return false;
    if (Math.max(nextFreeAt(s), s.departAt, s.pauseUntil, s.connCapUntil, s.trialAt) > now) return false;
    return entry.dayOffsetMs === undefined || s.dayCount === 0 || s.day < dayNumber(now, entry.dayOffsetMs);
  }

  /**
   * Bounds memory: evicts the least recently used idle lanes down to 90 % of
   * the cap, so that an eviction pass (one scan) runs once per tenth of the cap.
   */
  private evictIdle(now: number): void {
    const idle: string[] = [];
    for (const [key, entry] of this.states) if (this.isIdle(key, entry, now)) idle.push(key);
    const keep = Math.floor(this.maxIdleLanes * 0.9);
    for (let i = 0; i < idle.length - keep; i++) this.states.delete(idle[i] as string);
    this.evictAbove = this.states.size - Math.min(idle.length, keep) + this.maxIdleLanes;
    this.dropOrphanHits();
    this.history.retain((key) => this.states.has(key));
  }

  private dropOrphanHits(): void {
    for (const key of this.hits.keys())
      if (!this.states.has(key.slice(0, key.indexOf('\u0000')))) this.hits.delete(key);
  }

  /** Forgets lanes idle for two days with nothing pending, and providers with nothing in force. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, entry] of this.states) {
      const s = entry.state;
      const pending = Math.max(
        nextFreeAt(s),
        s.departAt,
        s.pauseUntil,
        s.connCapUntil,
        s.trialAt,
        ...s.leases.map((l) => l.expiresAt),
      );
      if (now - entry.touched > IDLE_MS && pending < now && s.blockedAt === 0) this.states.delete(key);
    }
    for (const [key, times] of this.hits) if (times.every((t) => now - t > IDLE_MS)) this.hits.delete(key);
    for (const [name, p] of this.providers) {
      const last = Math.max(p.pauseUntil, p.declaredAt, ...Object.values(p.throttled));
      if (p.probing === 0 && now - last > IDLE_MS) this.providers.delete(name);
    }
    // a lane's counters outlive its state by the same idle time as in Redis (two days)
    for (const [key, r] of this.why) if (now - r.at > IDLE_MS) this.why.delete(key);
    for (const [key, fields] of this.counts)
      if (Object.keys(addTally(fields, [], now, 0)).length === 0) this.counts.delete(key);
    this.history.sweep(now);
  }

  /** Snapshots are the stored objects themselves: core functions never mutate their input. */
  async peek(lanes: readonly LaneRef[], provider: string) {
    return {
      now: this.clock(),
      value: { lanes: lanes.map((l) => this.get(l)), provider: this.providers.get(provider) ?? emptyProvider() },
    };
  }

  private step<T>(
    lane: LaneRef,
    limits: LaneLimits,
    fn: (s: LaneState, now: number) => { state: LaneState; result: T },
  ): StoreResult<T> {
    const now = this.clock();
    const { state, result } = fn(this.get(lane), now);
    this.put(lane, state, now, limits);
    return { now, value: result };
  }

  async acquire(lane: LaneRef, limits: LaneLimits, req: AcquireRequest) {
    return this.step(lane, limits, (s, now) => acquire(s, limits, now, req));
  }

  async claim(lane: LaneRef, limits: LaneLimits, req: ClaimRequest) {
    return this.step(lane, limits, (s, now) => claim(s, limits, now, req));
  }

  async release(
    lane: LaneRef,
    limits: LaneLimits,
    leaseId: string,
    delivered: boolean,
    durationMs?: number,
  ): Promise<void> {
    if (!this.states.has(laneKey(lane))) return;
    this.step(lane, limits, (s, now) => ({
      state: release(s, limits, now, leaseId, delivered, durationMs),
      result: null,
    }));
  }

  async renew(lane: LaneRef, leaseIds: readonly string[], ttlMs: number): Promise<number> {
    const key = laneKey(lane);
    const entry = this.states.get(key);
    if (!entry) return 0;
    const { state, renewed } = renewLeases(entry.state, this.clock(), leaseIds, ttlMs);
    // leases are not persisted and a renewal is no use of the lane: same place, no change counted
    this.states.set(key, { ...entry, state });
    return renewed;
  }

  async releaseStale(node: string, owner: string): Promise<number> {
    let dropped = 0;
    for (const [key, entry] of this.states) {
      const r = dropEarlierBoots(entry.state, node, owner);
      if (r.dropped > 0) this.states.set(key, { ...entry, state: r.state });
      dropped += r.dropped;
    }
    return dropped;
  }

  async react(lane: LaneRef, limits: LaneLimits, event: ReactEvent, params: ReactParams) {
    return this.step(lane, limits, (s, now) => {
      const r = react(s, limits, now, event, params);
      return { state: r.state, result: { effect: r.effect, state: r.state } };
    });
  }

  async hit(lane: LaneRef, rule: string, windowMs: number): Promise<number> {
    const now = this.clock();
    const key = `${laneKey(lane)}\u0000${rule}`;
    const times = (this.hits.get(key) ?? []).filter((t) => now - t < windowMs);
    times.push(now);
    this.hits.set(key, times);
    this.changeCount++;
    return times.length;
  }

  async providerThrottle(provider: string, source: string, sources: number, params: IncidentParams) {
    const r = recordThrottle(this.providers.get(provider) ?? emptyProvider(), source, sources, this.clock(), params);
    this.providers.set(provider, r.state);
    this.changeCount++;
    return { incident: r.incident, explained: r.explained, pauseUntil: r.state.pauseUntil };
  }

  async providerProbe(provider: string, params: IncidentParams) {
    const now = this.clock();
    const r = takeProbe(this.providers.get(provider) ?? emptyProvider(), now, params);
    if (r.state !== this.providers.get(provider)) this.changeCount++;
    this.providers.set(provider, r.state);
    return { now, value: { ok: r.ok, at: r.at } };
  }

  async providerDelivered(provider: string): Promise<void> {
    const state = this.providers.get(provider);
    const next = state && providerDelivered(state);
    if (!next || next === state) return;
    this.providers.set(provider, next);
    this.changeCount++;
  }

  async warmRecord(lane: LaneRef): Promise<WarmRecord | null> {
    return this.warm.get(laneKey(lane)) ?? null;
  }

  async saveWarmRecord(lane: LaneRef, record: WarmRecord): Promise<WarmRecord> {
    const key = laneKey(lane);
    const stored = this.warm.get(key);
    if (stored && stored.evaluated >= record.evaluated) return stored;
    this.warm.set(key, { ...record });
    this.changeCount++;
    return record;
  }

  async putWarmRecord(lane: LaneRef, record: WarmRecord): Promise<void> {
    this.warm.set(laneKey(lane), { ...record });
  }

  async sourceStart(source: string, today: number): Promise<number> {
    const start = this.starts.get(source);
    if (start !== undefined) return start;
    this.starts.set(source, today);
    this.changeCount++;
    return today;
  }

  /** The controls in force; ended ones are dropped. */
  async controls(): Promise<StoreResult<Control[]>> {
    const now = this.clock();
    for (const [key, c] of this.kept) if (!inForce(c, now)) this.kept.delete(key);
    return { now, value: [...this.kept.values()] };
  }

  async setControl(req: ControlRequest): Promise<StoreResult<Control>> {
    const now = this.clock();
    const control = makeControl(req, now);
    this.kept.set(targetKey(req.target), control);
    return { now, value: control };
  }

  async clearControl(target: ControlTarget): Promise<StoreResult<Control | null>> {
    const { now } = await this.controls();
    const key = targetKey(target);
    const found = this.kept.get(key) ?? null;
    this.kept.delete(key);
    return { now, value: found };
  }

  /** Puts back controls kept across a restart (the plugin's controls file); ended ones are dropped. */
  restoreControls(controls: readonly Control[]): void {
    const now = this.clock();
    for (const c of controls) if (inForce(c, now)) this.kept.set(targetKey(c.target), c);
  }

  async laneControl(lane: LaneRef, op: 'lift' | 'reset'): Promise<boolean> {
    const key = laneKey(lane);
    const entry = this.states.get(key);
    if (!entry) return false;
    const now = this.clock();
    this.states.set(key, {
      ...entry,
      state: op === 'lift' ? liftLane(entry.state, now) : resetPace(entry.state, now),
      touched: now,
    });
    this.changeCount++;
    return true;
  }

  async liftProvider(provider: string): Promise<boolean> {
    const state = this.providers.get(provider);
    if (!state) return false;
    this.providers.set(provider, liftProvider(state));
    return true;
  }

  async tally(
    lane: LaneRef,
    names: readonly string[],
    dayOffsetMs: number,
    keepDays = HISTORY_MIN_DAYS,
  ): Promise<void> {
    const key = laneKey(lane);
    const now = this.clock();
    this.counts.set(key, addTally(this.counts.get(key) ?? {}, dayNames(names), now, dayOffsetMs));
    this.history.add(key, names, this.get(lane).factor, now, dayNumber(now, dayOffsetMs), keepDays);
  }

  async histories(lanes: readonly LaneRef[]) {
    const now = this.clock();
    return { now, value: lanes.map((l) => this.history.read(laneKey(l), now)) };
  }

  async tallies(lanes: readonly LaneRef[]) {
    return { now: this.clock(), value: lanes.map((l) => ({ ...(this.counts.get(laneKey(l)) ?? {}) })) };
  }

  async reason(lane: LaneRef, reason: Omit<LaneReason, 'at'>): Promise<void> {
    this.why.set(laneKey(lane), { ...reason, at: this.clock() });
  }

  async reasons(lanes: readonly LaneRef[]) {
    const now = this.clock();
    return { now, value: lanes.map((l) => this.fresh(this.why.get(laneKey(l)), now)) };
  }

  /** A reason younger than the idle time (Redis expires it then). */
  private fresh(r: LaneReason | undefined, now: number): LaneReason | null {
    return r && now - r.at <= IDLE_MS ? { ...r } : null;
  }

  async report(id: string, text: string, ttlMs: number): Promise<void> {
    this.board.set(id, { id, text, until: this.clock() + ttlMs });
  }

  async reports() {
    const now = this.clock();
    for (const [id, r] of this.board) if (r.until <= now) this.board.delete(id);
    return { now, value: [...this.board.values()].sort((a, b) => a.id.localeCompare(b.id)) };
  }

  async lanes() {
    return {
      now: this.clock(),
      value: [...this.states.values()].map(({ lane, state }) => ({ lane, state: structuredClone(state) })),
    };
  }

  /** Everything held, as plain data that shares nothing with the store. */
  snapshot(): MemorySnapshot {
    return structuredClone({
      lanes: [...this.states.values()],
      providers: [...this.providers],
      hits: [...this.hits],
      warm: [...this.warm],
      starts: [...this.starts],
    });
  }

  /** Replaces everything held by a snapshot (lanes in its order: least recently used first). */
  restore(snapshot: MemorySnapshot): void {
    const copy = structuredClone(snapshot) as MemorySnapshot;
    this.states.clear();
    for (const entry of copy.lanes) this.states.set(laneKey(entry.lane), entry);
    const fill = <V>(map: Map<string, V>, entries: ReadonlyArray<readonly [string, V]>) => {
      map.clear();
      for (const [k, v] of entries) map.set(k, v);
    };
    fill(this.providers, copy.providers);
    fill(this.hits, copy.hits as Array<[string, number[]]>);
    fill(this.warm, copy.warm);
    fill(this.starts, copy.starts);
    this.changeCount++;
  }

  async close(): Promise<void> {
    this.states.clear();
    this.providers.clear();
    this.hits.clear();
    this.kept.clear();
    this.counts.clear();
    this.why.clear();
    this.history.clear();
  }
}
