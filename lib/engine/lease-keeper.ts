/**
 * Keeps the leases of this process's deliveries in flight alive. A lease
 * expires `lease_ttl` after it was taken or last renewed (lib/core/lease.ts),
 * so a process that dies loses its concurrency slots within `lease_ttl`; the
 * process renews every live delivery's lease every third of `lease_ttl`, so a
 * long delivery keeps its slot. Renewal stops `lease` after the delivery
 * began (a delivery Haraka never ended must not hold a slot forever).
 */

import { randomBytes, randomUUID } from 'node:crypto';
import { leaseOwner, nodePrefix } from '../core/lease';
import { laneKey, type LaneRef, type PacingStore } from '../store/types';
import type { StoreLog } from '../store/open';
import type { Outcomes } from './outcomes';

/** A new boot id: 12 random bytes as base64url (letters, digits, "_", "-"). */
export function newBootId(): string {
  return randomBytes(12).toString('base64url');
}

/** Who this process is in its lease ids. */
export interface LeaseIdentity {
  /** The node's name (a Haraka install). */
  readonly node: string;
  /** This boot of the node (shared by the workers of a cluster-mode node). */
  readonly boot: string;
}

/** The identity of tools and tests that never restart a node. */
export function localIdentity(): LeaseIdentity {
  return { node: 'local', boot: newBootId() };
}

interface Live {
  readonly lane: LaneRef;
  /** No renewal after this (epoch ms): the delivery began `lease` ago. */
  readonly until: number;
}

export class LeaseKeeper {
  /** The prefix of every lease id this process takes. */
  readonly owner: string;
  private readonly live = new Map<string, Live>();

  constructor(
    private readonly store: PacingStore,
    readonly identity: LeaseIdentity,
  ) {
    this.owner = leaseOwner(identity.node, identity.boot);
  }

  /** A lease id for a new delivery. */
  newId(): string {
    return `${this.owner}${randomUUID()}`;
  }

  /** A lease was granted: renew it until it ends or until `until` (epoch ms). */
  keep(id: string, lane: LaneRef, until: number): void {
    this.live.set(id, { lane, until });
  }

  /** The delivery ended (its lease is released). */
  forget(id: string): void {
    this.live.delete(id);
  }

  /** Deliveries whose leases are kept alive. */
  get size(): number {
    return this.live.size;
  }

  /**
   * Renews every live lease (one store call per lane); leases past their
   * `until` are let go. Returns how many the store renewed.
   */
  async renew(now: number, ttlMs: number): Promise<number> {
    const byLane = new Map<string, { lane: LaneRef; ids: string[] }>();
    for (const [id, live] of this.live) {
      if (live.until <= now) {
        this.live.delete(id);
        continue;
      }
      const key = laneKey(live.lane);
      const entry = byLane.get(key) ?? { lane: live.lane, ids: [] };
      entry.ids.push(id);
      byLane.set(key, entry);
    }
    const counts = await Promise.all([...byLane.values()].map((e) => this.store.renew(e.lane, e.ids, ttlMs)));
    return counts.reduce((sum, n) => sum + n, 0);
  }

  /** Drops, on every lane, the leases this node took in its earlier boots; returns how many. */
  releaseEarlierBoots(): Promise<number> {
    return this.store.releaseStale(nodePrefix(this.identity.node), this.owner);
  }
}

/**
 * At start, drops the leases this node took in its earlier boots (their
 * deliveries died with it), then renews the leases of the deliveries in
 * flight every third of `lease_ttl`. Returns a function that stops renewing.
 */
export function startLeases(engine: Pick<Outcomes, 'leases' | 'renewLeases' | 'current'>, log: StoreLog): () => void {
  const { node, boot } = engine.leases.identity;
  engine.leases.releaseEarlierBoots().then(
    (n) => log('notice', `paceline: node ${node} boot ${boot}: released ${n} leases of its earlier boots`),
    (err: Error) =>
      log(
        'error',
        `paceline: could not release the leases of earlier boots (they expire in lease_ttl): ${err.message}`,
      ),
  );
  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    engine.renewLeases().catch((err: Error) => log('error', `paceline: lease renewal failed: ${err.message}`));
    timer = setTimeout(tick, Math.max(500, engine.current.settings.leaseTtlMs / 3));
    timer.unref();
  };
  timer = setTimeout(tick, Math.max(500, engine.current.settings.leaseTtlMs / 3));
  timer.unref();
  return () => clearTimeout(timer);
}
