/**
 * Keeps pacing going when the shared store fails. Every call goes to the
 * primary (Redis); when it throws, the call is answered by the policy
 * `on_store_error`, the outage is logged once, and the primary is tried again
 * after a short pause, so shared pacing resumes by itself:
 * - `local`: a per-node memory store whose lanes get their limits divided by
 *   `cluster_size` (each node takes its share of every limit);
 * - `delay`: every message waits and tries again;
 * - `allow`: messages go out unpaced.
 * Nothing is lost or bounced because the store was away.
 */

import type { ReactEvent, ReactParams } from '../core/adapt';
import type { AcquireRequest, AcquireResult, ClaimRequest, LaneLimits } from '../core/lane';
import type { IncidentParams } from '../core/provider-state';
import type { WarmRecord } from '../core/warmup';
import type { Control, ControlRequest, ControlTarget } from '../core/control';
import { MemoryStore } from './memory';
import type { LaneRef, PacingStore, StoreResult } from './types';

export type OnStoreError = 'local' | 'delay' | 'allow';

export interface FallbackOptions {
  readonly policy: OnStoreError;
  /** Nodes sharing the limits; `local` gives each node 1/clusterSize of every limit. */
  readonly clusterSize: number;
  /** How long to answer from the fallback before trying the primary again. */
  readonly retryMs: number;
  /** `delay`: how long a message waits. */
  readonly delayMs: number;
  readonly log: (level: 'error' | 'notice', text: string) => void;
  readonly clock?: () => number;
}

/**
 * A node's share of a lane's limits, for the local store during an outage.
 * Its lanes start at their share of the configured pace (no start phase):
 * the outage is the shared store's, and the mail must keep its pace from the
 * first second.
 */
export function shareOf(limits: LaneLimits, nodes: number): LaneLimits {
  const policy = limits.policy && limits.policy.start < 1 ? { ...limits.policy, start: 1 } : limits.policy;
  const out: { -readonly [K in keyof LaneLimits]: LaneLimits[K] } = { ...limits, ...(policy ? { policy } : {}) };
  if (nodes <= 1) return out;
  if (limits.rate) out.rate = { ...limits.rate, count: limits.rate.count / nodes, burst: Math.max(1, Math.floor(limits.rate.burst / nodes)) };
  if (limits.concurrency !== undefined) out.concurrency = Math.max(1, Math.floor(limits.concurrency / nodes));
  if (limits.perDay !== undefined) out.perDay = Math.max(1, Math.floor(limits.perDay / nodes));
  return out;
}

export class FallbackStore implements PacingStore {
  private readonly local: MemoryStore;
  private readonly clock: () => number;
  private downSince = 0;
  /** The controls the primary last answered: still obeyed while it is away. */
  private lastControls: Control[] = [];
  private retryAt = 0;
  private failures = 0;

  constructor(
    private readonly primary: PacingStore,
    private readonly o: FallbackOptions,
  ) {
    this.clock = o.clock ?? Date.now;
    this.local = new MemoryStore(this.clock);
  }

  /** Calls to the primary that failed (answered by the policy), since this store was made. */
  get errors(): number {
    return this.failures;
  }

  /** True while the primary is considered down. */
  get degraded(): boolean {
    return this.downSince !== 0;
  }

  private async run<T>(what: string, primary: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    if (this.downSince !== 0 && this.clock() < this.retryAt) return fallback();
    try {
      const value = await primary();
      if (this.downSince !== 0) {
        this.o.log('notice', `paceline: shared store is back after ${Math.round((this.clock() - this.downSince) / 1000)}s; shared pacing resumed`);
        this.downSince = 0;
      }
      return value;
    } catch (err) {
      const now = this.clock();
      this.failures += 1;
      if (this.downSince === 0) {
        this.downSince = now;
        this.o.log('error', `paceline: shared store failed (${what}: ${(err as Error).message}); on_store_error=${this.o.policy} until it answers again`);
      }
      this.retryAt = now + this.o.retryMs;
      return fallback();
    }
  }

  private answer(limits: LaneLimits, lane: LaneRef, req: { leaseId: string; leaseMs: number }): Promise<StoreResult<AcquireResult>> {
    const now = this.clock();
    if (this.o.policy === 'allow') return Promise.resolve({ now, value: { kind: 'granted', leaseId: req.leaseId } });
    if (this.o.policy === 'delay') return Promise.resolve({ now, value: { kind: 'wait', at: now + this.o.delayMs, reason: 'store' } });
    // Only `now`: a slot booked locally would be booked again when the message came back to
    // claim it (the claim goes to the primary first), taking two local slots per message.
    return this.local.acquire(lane, shareOf(limits, this.o.clusterSize), { mode: 'now', ...req });
  }

  peek(lanes: readonly LaneRef[], provider: string) {
    return this.run('peek', () => this.primary.peek(lanes, provider), () => this.local.peek(lanes, provider));
  }

  acquire(lane: LaneRef, limits: LaneLimits, req: AcquireRequest) {
    return this.run('acquire', () => this.primary.acquire(lane, limits, req), () => this.answer(limits, lane, req));
  }

  claim(lane: LaneRef, limits: LaneLimits, req: ClaimRequest) {
    return this.run('claim', () => this.primary.claim(lane, limits, req), () => this.answer(limits, lane, req));
  }

  async release(lane: LaneRef, limits: LaneLimits, leaseId: string, delivered: boolean, durationMs?: number): Promise<void> {
    await this.local.release(lane, shareOf(limits, this.o.clusterSize), leaseId, delivered, durationMs);
    await this.run('release', () => this.primary.release(lane, limits, leaseId, delivered, durationMs), async () => undefined);
  }

  react(lane: LaneRef, limits: LaneLimits, event: ReactEvent, params: ReactParams) {
    return this.run('react', () => this.primary.react(lane, limits, event, params), () => this.local.react(lane, shareOf(limits, this.o.clusterSize), event, params));
  }

  hit(lane: LaneRef, rule: string, windowMs: number) {
    return this.run('hit', () => this.primary.hit(lane, rule, windowMs), () => this.local.hit(lane, rule, windowMs));
  }

  providerThrottle(provider: string, source: string, sources: number, params: IncidentParams) {
    return this.run('providerThrottle', () => this.primary.providerThrottle(provider, source, sources, params), () => this.local.providerThrottle(provider, source, sources, params));
  }

  providerProbe(provider: string, params: IncidentParams) {
    return this.run('providerProbe', () => this.primary.providerProbe(provider, params), () => this.local.providerProbe(provider, params));
  }

  providerDelivered(provider: string) {
    return this.run('providerDelivered', () => this.primary.providerDelivered(provider), () => this.local.providerDelivered(provider));
  }

  warmRecord(lane: LaneRef): Promise<WarmRecord | null> {
    return this.run('warmRecord', () => this.primary.warmRecord(lane), () => this.local.warmRecord(lane));
  }

  saveWarmRecord(lane: LaneRef, record: WarmRecord): Promise<WarmRecord> {
    return this.run('saveWarmRecord', () => this.primary.saveWarmRecord(lane, record), async () => record);
  }

  sourceStart(source: string, today: number): Promise<number> {
    return this.run('sourceStart', () => this.primary.sourceStart(source, today), () => this.local.sourceStart(source, today));
  }

  /** During an outage the controls last read from the primary stay in force (ended ones drop out). */
  async controls(): Promise<StoreResult<Control[]>> {
    return this.run(
      'controls',
      async () => {
        const r = await this.primary.controls();
        this.lastControls = r.value;
        return r;
      },
      async () => {
        const now = this.clock();
        return { now, value: this.lastControls.filter((c) => c.until === 0 || c.until > now) };
      },
    );
  }

  /** Controls are written to the primary only: an operator's action fails loudly rather than apply to one node. */
  setControl(req: ControlRequest): Promise<StoreResult<Control>> {
    return this.primary.setControl(req);
  }

  clearControl(target: ControlTarget): Promise<StoreResult<Control | null>> {
    return this.primary.clearControl(target);
  }

  laneControl(lane: LaneRef, op: 'lift' | 'reset'): Promise<boolean> {
    return this.primary.laneControl(lane, op);
  }

  liftProvider(provider: string): Promise<boolean> {
    return this.primary.liftProvider(provider);
  }

  lanes() {
    return this.run('lanes', () => this.primary.lanes(), () => this.local.lanes());
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.primary.close(), this.local.close()]);
  }
}

