/**
 * The embedded store: pacing state in this process's memory. Right for one
 * Haraka process; the plugin refuses it under cluster mode with several
 * workers, where each would keep its own limits and multiply them.
 */

import { react, type ReactEvent, type ReactParams } from '../core/adapt';
import { acquire, claim, emptyLane, nextFreeAt, release, type AcquireRequest, type ClaimRequest, type LaneLimits, type LaneState } from '../core/lane';
import { emptyProvider, providerDelivered, recordThrottle, takeProbe, type IncidentParams, type ProviderState } from '../core/provider-state';
import { addTally, type TallyFields } from '../core/tally';
import type { WarmRecord } from '../core/warmup';
import { laneKey, type LaneReason, type LaneRef, type PacingStore, type StoreResult } from './types';

/** Idle lanes (no leases, no future slot, no reaction in force) older than this are dropped. */
const IDLE_MS = 2 * 86_400_000;

export class MemoryStore implements PacingStore {
  private readonly states = new Map<string, { lane: LaneRef; state: LaneState; touched: number }>();
  private readonly providers = new Map<string, ProviderState>();
  private readonly hits = new Map<string, number[]>();
  private readonly warm = new Map<string, WarmRecord>();
  private readonly starts = new Map<string, number>();
  private readonly counts = new Map<string, TallyFields>();
  private readonly why = new Map<string, LaneReason>();
  private lastSweep = 0;

  /** `clock` returns epoch ms; tests inject a fake one. */
  constructor(private readonly clock: () => number = Date.now) {}

  private get(lane: LaneRef): LaneState {
    return this.states.get(laneKey(lane))?.state ?? emptyLane();
  }

  private put(lane: LaneRef, state: LaneState, now: number): void {
    this.states.set(laneKey(lane), { lane, state, touched: now });
    if (now - this.lastSweep > 60_000) this.sweep(now);
  }

  /** Bounds memory: forgets lanes idle for two days with nothing pending. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, { state, touched }] of this.states) {
      const pending = Math.max(nextFreeAt(state), state.departAt, state.pauseUntil, state.connCapUntil, state.probeAt, ...state.leases.map((l) => l.expiresAt));
      if (now - touched > IDLE_MS && pending < now && state.blockedAt === 0) this.states.delete(key);
    }
    for (const [key, times] of this.hits) if (times.every((t) => now - t > IDLE_MS)) this.hits.delete(key);
    // a lane's counters outlive its state by the same idle time as in Redis (two days)
    for (const [key, r] of this.why) if (now - r.at > IDLE_MS) this.why.delete(key);
    for (const [key, fields] of this.counts) if (Object.keys(addTally(fields, [], now, 0)).length === 0) this.counts.delete(key);
  }

  /** Snapshots are the stored objects themselves: core functions never mutate their input. */
  async peek(lanes: readonly LaneRef[], provider: string) {
    return { now: this.clock(), value: { lanes: lanes.map((l) => this.get(l)), provider: this.providers.get(provider) ?? emptyProvider() } };
  }

  private step<T>(lane: LaneRef, fn: (s: LaneState, now: number) => { state: LaneState; result: T }): StoreResult<T> {
    const now = this.clock();
    const { state, result } = fn(this.get(lane), now);
    this.put(lane, state, now);
    return { now, value: result };
  }

  async acquire(lane: LaneRef, limits: LaneLimits, req: AcquireRequest) {
    return this.step(lane, (s, now) => acquire(s, limits, now, req));
  }

  async claim(lane: LaneRef, limits: LaneLimits, req: ClaimRequest) {
    return this.step(lane, (s, now) => claim(s, limits, now, req));
  }

  async release(lane: LaneRef, limits: LaneLimits, leaseId: string, delivered: boolean, durationMs?: number): Promise<void> {
    if (!this.states.has(laneKey(lane))) return;
    this.step(lane, (s, now) => ({ state: release(s, limits, now, leaseId, delivered, durationMs), result: null }));
  }

  async react(lane: LaneRef, limits: LaneLimits, event: ReactEvent, params: ReactParams) {
    return this.step(lane, (s, now) => {
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
    return times.length;
  }

  async providerThrottle(provider: string, source: string, sources: number, params: IncidentParams) {
    const r = recordThrottle(this.providers.get(provider) ?? emptyProvider(), source, sources, this.clock(), params);
    this.providers.set(provider, r.state);
    return { incident: r.incident, explained: r.explained, pauseUntil: r.state.pauseUntil };
  }

  async providerProbe(provider: string, params: IncidentParams) {
    const now = this.clock();
    const r = takeProbe(this.providers.get(provider) ?? emptyProvider(), now, params);
    this.providers.set(provider, r.state);
    return { now, value: { ok: r.ok, at: r.at } };
  }

  async providerDelivered(provider: string): Promise<void> {
    const state = this.providers.get(provider);
    if (state) this.providers.set(provider, providerDelivered(state));
  }

  async warmRecord(lane: LaneRef): Promise<WarmRecord | null> {
    return this.warm.get(laneKey(lane)) ?? null;
  }

  async saveWarmRecord(lane: LaneRef, record: WarmRecord): Promise<WarmRecord> {
    const key = laneKey(lane);
    const stored = this.warm.get(key);
    if (stored && stored.evaluated >= record.evaluated) return stored;
    this.warm.set(key, { ...record });
    return record;
  }

  async sourceStart(source: string, today: number): Promise<number> {
    const start = this.starts.get(source);
    if (start !== undefined) return start;
    this.starts.set(source, today);
    return today;
  }

  async tally(lane: LaneRef, names: readonly string[], dayOffsetMs: number): Promise<void> {
    const key = laneKey(lane);
    this.counts.set(key, addTally(this.counts.get(key) ?? {}, names, this.clock(), dayOffsetMs));
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

  async lanes() {
    return { now: this.clock(), value: [...this.states.values()].map(({ lane, state }) => ({ lane, state: structuredClone(state) })) };
  }

  async close(): Promise<void> {
    this.states.clear();
    this.providers.clear();
    this.hits.clear();
    this.counts.clear();
    this.why.clear();
  }
}
