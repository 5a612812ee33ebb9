/**
 * Keeps pacing going when the shared store fails. Every call goes to the
 * primary (Redis); when it throws, the call is answered by the policy
 * `on_store_error` and the outage is logged once. While it is down every call
 * is answered by the policy at once (none waits for a dead server's timeout),
 * and one read-only check every `retry_after` finds out when it is back, so
 * shared pacing resumes by itself:
 * - `local`: a per-node memory store whose lanes get their limits divided by
 *   `cluster_size` (each node takes its share of every limit);
 * - `delay`: every message waits and tries again;
 * - `allow`: messages go out unpaced.
 * Nothing is lost or bounced because the store was away.
 *
 * Under `local` a message the local store booked a slot for comes back to
 * claim it from the local store while the primary is down, and books again on
 * the primary (a fresh acquire, counted there) once it answers; a message the
 * primary booked books again locally while the primary is down. Either way it
 * keeps its place in the store that paces it, and no slot is taken twice.
 */

import type { ReactEvent, ReactParams } from '../core/adapt';
import type { AcquireRequest, AcquireResult, ClaimRequest, LaneLimits } from '../core/lane-state';
import type { IncidentParams } from '../core/provider-state';
import type { WarmRecord } from '../core/warmup';
import type { Control, ControlRequest, ControlTarget } from '../core/control';
import { MemoryStore } from './memory';
import { laneKey, type LaneReason, type LaneRef, type PacingStore, type StoreResult } from './types';

import type { OnStoreError } from '../config/types';
export type { OnStoreError };

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
  if (limits.rate)
    out.rate = {
      ...limits.rate,
      count: limits.rate.count / nodes,
      burst: Math.max(1, Math.floor(limits.rate.burst / nodes)),
    };
  if (limits.concurrency !== undefined) out.concurrency = Math.max(1, Math.floor(limits.concurrency / nodes));
  if (limits.perDay !== undefined) out.perDay = Math.max(1, Math.floor(limits.perDay / nodes));
  return out;
}

/** Tries of the boot-time release of earlier boots' leases (see FallbackStore.releaseStale). */
export const RELEASE_TRIES = 3;
/** ms between those tries, times the attempt: 0.5 s, then 1 s. */
export const RELEASE_RETRY_MS = 500;

/** A local booking whose slot was this long ago is forgotten (its message was delivered elsewhere, bounced or lost). */
const BOOKING_TTL_MS = 3_600_000;

function bookingKey(lane: LaneRef, slot: number, epoch: number): string {
  return `${laneKey(lane)}|${slot}|${epoch}`;
}

export class FallbackStore implements PacingStore {
  private local: MemoryStore;
  private readonly clock: () => number;
  private downSince = 0;
  /** The controls the primary last answered: still obeyed while it is away. */
  private lastControls: Control[] = [];
  private retryAt = 0;
  /** Slots the local store booked (lane|slot|epoch → real time of the slot, ms): their claims go to it. */
  private readonly booked = new Map<string, number>();
  private lastSweep = 0;
  private probing = false;
  /** The provider of the latest decision: what the check peeks. */
  private lastProvider = '';
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

  /**
   * The primary, or the policy's answer while it is down. While it is down no
   * call waits for it: every call is answered by the policy at once, and one
   * read-only check at a time, every `retryMs`, finds out when it is back
   * (a decision waiting for a dead server's timeout would miss its slot).
   */
  private async run<T>(what: string, primary: () => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    if (this.downSince !== 0) {
      this.checkBack();
      return fallback();
    }
    try {
      return await primary();
    } catch (err) {
      const now = this.clock();
      this.failures += 1;
      if (this.downSince === 0) {
        this.downSince = now;
        this.o.log(
          'error',
          `paceline: shared store failed (${what}: ${(err as Error).message}); on_store_error=${this.o.policy} until it answers again`,
        );
      }
      this.retryAt = now + this.o.retryMs;
      return fallback();
    }
  }

  /** One read-only call to the primary, at most one at a time and one per `retryMs`. */
  private checkBack(): void {
    if (this.probing || this.clock() < this.retryAt) return;
    this.probing = true;
    this.primary
      .peek([], this.lastProvider)
      .then(
        () => this.resume(),
        () => {
          this.failures += 1;
          this.retryAt = this.clock() + this.o.retryMs;
        },
      )
      .finally(() => (this.probing = false));
  }

  private resume(): void {
    if (this.downSince === 0) return;
    const seconds = Math.round((this.clock() - this.downSince) / 1000);
    this.o.log('notice', `paceline: shared store is back after ${seconds}s; shared pacing resumed`);
    this.downSince = 0;
    // the local bookings move to the primary as their messages come back (claimLocal):
    // a later outage starts from fresh local lanes, not behind those slots
    const old = this.local;
    this.local = new MemoryStore(this.clock);
    void old.close();
  }

  /** An acquire answered by the policy; a slot the local store books is remembered for its claim. */
  private async answer(limits: LaneLimits, lane: LaneRef, req: AcquireRequest): Promise<StoreResult<AcquireResult>> {
    const now = this.clock();
    if (this.o.policy === 'allow') return { now, value: { kind: 'granted', leaseId: req.leaseId } };
    if (this.o.policy === 'delay') return { now, value: { kind: 'wait', at: now + this.o.delayMs, reason: 'store' } };
    return this.remember(lane, await this.local.acquire(lane, shareOf(limits, this.o.clusterSize), req));
  }

  /** Notes a slot the local store booked, so that its claim goes back to it; forgets long-past ones. */
  private remember(lane: LaneRef, res: StoreResult<AcquireResult>): StoreResult<AcquireResult> {
    const v = res.value;
    if (v.kind === 'reserved') this.booked.set(bookingKey(lane, v.slot, v.epoch), v.at);
    if (res.now - this.lastSweep > 60_000) {
      this.lastSweep = res.now;
      for (const [key, at] of this.booked) if (res.now - at > BOOKING_TTL_MS) this.booked.delete(key);
    }
    // the shared store may be back before the slot: the message checks again every retry_after
    return { ...res, recheckMs: this.o.retryMs };
  }

  /**
   * A message back for a slot the local store booked: the local store claims
   * it while the primary is down; once the primary answers, the message books
   * on the primary (counted there), which paces the lane again.
   */
  private claimLocal(lane: LaneRef, limits: LaneLimits, req: ClaimRequest, key: string) {
    const again: AcquireRequest = { mode: 'reserve', leaseId: req.leaseId, leaseMs: req.leaseMs };
    const shared = async () => {
      const res = await this.primary.acquire(lane, limits, again);
      this.booked.delete(key);
      return res;
    };
    const local = async () => {
      const res = await this.local.claim(lane, shareOf(limits, this.o.clusterSize), req);
      if (res.value.kind !== 'wait') this.booked.delete(key);
      return this.remember(lane, res);
    };
    return this.run('claim', shared, local);
  }

  peek(lanes: readonly LaneRef[], provider: string) {
    this.lastProvider = provider;
    return this.run(
      'peek',
      () => this.primary.peek(lanes, provider),
      () => this.local.peek(lanes, provider),
    );
  }

  acquire(lane: LaneRef, limits: LaneLimits, req: AcquireRequest) {
    return this.run(
      'acquire',
      () => this.primary.acquire(lane, limits, req),
      () => this.answer(limits, lane, req),
    );
  }

  claim(lane: LaneRef, limits: LaneLimits, req: ClaimRequest) {
    const key = bookingKey(lane, req.slot, req.epoch);
    if (this.booked.has(key)) return this.claimLocal(lane, limits, req, key);
    // a slot the primary booked means nothing to the local store: the message books again there
    const again: AcquireRequest = { mode: 'reserve', leaseId: req.leaseId, leaseMs: req.leaseMs };
    return this.run(
      'claim',
      () => this.primary.claim(lane, limits, req),
      () => this.answer(limits, lane, again),
    );
  }

  async release(
    lane: LaneRef,
    limits: LaneLimits,
    leaseId: string,
    delivered: boolean,
    durationMs?: number,
  ): Promise<void> {
    await this.local.release(lane, shareOf(limits, this.o.clusterSize), leaseId, delivered, durationMs);
    await this.run(
      'release',
      () => this.primary.release(lane, limits, leaseId, delivered, durationMs),
      async () => undefined,
    );
  }

  /** Both stores: a lease taken locally during an outage is renewed there too. */
  async renew(lane: LaneRef, leaseIds: readonly string[], ttlMs: number): Promise<number> {
    const local = await this.local.renew(lane, leaseIds, ttlMs);
    const shared = await this.run(
      'renew',
      () => this.primary.renew(lane, leaseIds, ttlMs),
      async () => 0,
    );
    return local + shared;
  }

  /**
   * Drops a node's leases of earlier boots: housekeeping at boot, not
   * pacing. A booting worker's first command can time out on a loaded machine
   * while the store is fine, so a failure is retried (RELEASE_TRIES in all,
   * RELEASE_RETRY_MS × the attempt apart) and never counts as the store
   * failing: the decisions find out whether it is away. After the last try
   * the error is thrown (the caller logs it; those leases expire in lease_ttl).
   */
  async releaseStale(node: string, owner: string): Promise<number> {
    const local = await this.local.releaseStale(node, owner);
    if (this.downSince !== 0) return local;
    for (let attempt = 1; ; attempt++) {
      try {
        return local + (await this.primary.releaseStale(node, owner));
      } catch (err) {
        if (attempt >= RELEASE_TRIES) throw err;
        await new Promise((r) => setTimeout(r, RELEASE_RETRY_MS * attempt));
      }
    }
  }

  react(lane: LaneRef, limits: LaneLimits, event: ReactEvent, params: ReactParams) {
    return this.run(
      'react',
      () => this.primary.react(lane, limits, event, params),
      () => this.local.react(lane, shareOf(limits, this.o.clusterSize), event, params),
    );
  }

  hit(lane: LaneRef, rule: string, windowMs: number) {
    return this.run(
      'hit',
      () => this.primary.hit(lane, rule, windowMs),
      () => this.local.hit(lane, rule, windowMs),
    );
  }

  providerThrottle(provider: string, source: string, sources: number, params: IncidentParams) {
    return this.run(
      'providerThrottle',
      () => this.primary.providerThrottle(provider, source, sources, params),
      () => this.local.providerThrottle(provider, source, sources, params),
    );
  }

  providerProbe(provider: string, params: IncidentParams) {
    return this.run(
      'providerProbe',
      () => this.primary.providerProbe(provider, params),
      () => this.local.providerProbe(provider, params),
    );
  }

  providerDelivered(provider: string) {
    return this.run(
      'providerDelivered',
      () => this.primary.providerDelivered(provider),
      () => this.local.providerDelivered(provider),
    );
  }

  warmRecord(lane: LaneRef): Promise<WarmRecord | null> {
    return this.run(
      'warmRecord',
      () => this.primary.warmRecord(lane),
      () => this.local.warmRecord(lane),
    );
  }

  saveWarmRecord(lane: LaneRef, record: WarmRecord): Promise<WarmRecord> {
    return this.run(
      'saveWarmRecord',
      () => this.primary.saveWarmRecord(lane, record),
      async () => record,
    );
  }

  putWarmRecord(lane: LaneRef, record: WarmRecord): Promise<void> {
    return this.primary.putWarmRecord(lane, record);
  }

  sourceStart(source: string, today: number): Promise<number> {
    return this.run(
      'sourceStart',
      () => this.primary.sourceStart(source, today),
      () => this.local.sourceStart(source, today),
    );
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

  /** While the primary is down, counted locally: those counts stay in this process (status shows the primary's). */
  tally(lane: LaneRef, names: readonly string[], dayOffsetMs: number, keepDays?: number): Promise<void> {
    return this.run(
      'tally',
      () => this.primary.tally(lane, names, dayOffsetMs, keepDays),
      () => this.local.tally(lane, names, dayOffsetMs, keepDays),
    );
  }

  histories(lanes: readonly LaneRef[]) {
    return this.run(
      'histories',
      () => this.primary.histories(lanes),
      () => this.local.histories(lanes),
    );
  }

  tallies(lanes: readonly LaneRef[]) {
    return this.run(
      'tallies',
      () => this.primary.tallies(lanes),
      () => this.local.tallies(lanes),
    );
  }

  reason(lane: LaneRef, reason: Omit<LaneReason, 'at'>): Promise<void> {
    return this.run(
      'reason',
      () => this.primary.reason(lane, reason),
      () => this.local.reason(lane, reason),
    );
  }

  reasons(lanes: readonly LaneRef[]) {
    return this.run(
      'reasons',
      () => this.primary.reasons(lanes),
      () => this.local.reasons(lanes),
    );
  }

  /**
   * A status report never moves pacing to the fallback: while the shared store
   * answers, a failed write is dropped (the next comes within REPORT_EVERY_MS),
   * not counted as a store failure. Seen at start under load: the first call,
   * which loads the script, took longer than a short command_timeout.
   */
  async report(id: string, text: string, ttlMs: number): Promise<void> {
    if (this.downSince !== 0) return this.local.report(id, text, ttlMs);
    await this.primary.report(id, text, ttlMs).catch(() => undefined);
  }

  reports() {
    return this.run(
      'reports',
      () => this.primary.reports(),
      () => this.local.reports(),
    );
  }

  lanes() {
    return this.run(
      'lanes',
      () => this.primary.lanes(),
      () => this.local.lanes(),
    );
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.primary.close(), this.local.close()]);
  }
}
