/**
 * The embedded store: pacing state in this process's memory. Right for one
 * Haraka process; the plugin refuses it under cluster mode with several
 * workers, where each would keep its own limits and multiply them.
 */

import { acquire, claim, emptyLane, release, type AcquireRequest, type LaneLimits, type LaneState } from '../core/lane';
import { laneKey, type LaneRef, type PacingStore, type StoreResult } from './types';

/** Idle lanes (no leases, no future slot) older than this are dropped. */
const IDLE_MS = 2 * 86_400_000;

export class MemoryStore implements PacingStore {
  private readonly states = new Map<string, { lane: LaneRef; state: LaneState; touched: number }>();
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

  /** Bounds memory: forgets lanes idle for two days with nothing in flight. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, entry] of this.states) {
      const idle = now - entry.touched > IDLE_MS && entry.state.tat < now && entry.state.leases.every((l) => l.expiresAt <= now);
      if (idle) this.states.delete(key);
    }
  }

  /** Snapshots are the stored objects themselves: lane functions never mutate their input. */
  async peek(lanes: readonly LaneRef[]): Promise<StoreResult<LaneState[]>> {
    return { now: this.clock(), value: lanes.map((l) => this.get(l)) };
  }

  async acquire(lane: LaneRef, limits: LaneLimits, req: AcquireRequest) {
    const now = this.clock();
    const { state, result } = acquire(this.get(lane), limits, now, req);
    this.put(lane, state, now);
    return { now, value: result };
  }

  async claim(lane: LaneRef, limits: LaneLimits, req: { reservedAt: number; leaseId: string; leaseMs: number }) {
    const now = this.clock();
    const { state, result } = claim(this.get(lane), limits, now, req);
    this.put(lane, state, now);
    return { now, value: result };
  }

  async release(lane: LaneRef, leaseId: string, durationMs?: number): Promise<void> {
    const now = this.clock();
    const entry = this.states.get(laneKey(lane));
    if (entry) this.put(lane, release(entry.state, leaseId, now, durationMs), now);
  }

  async lanes() {
    return { now: this.clock(), value: [...this.states.values()].map(({ lane, state }) => ({ lane, state: structuredClone(state) })) };
  }

  async close(): Promise<void> {
    this.states.clear();
  }
}
