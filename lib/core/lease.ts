/**
 * Who holds a concurrency lease, and keeping a live one alive.
 *
 * A lease id is `<node>/<boot>/<delivery>`: the node (a Haraka install: its
 * configured or derived name, URI-encoded so that it holds no `/`), the boot
 * (random, new each time the node starts; shared by the workers of one
 * cluster-mode node) and a unique delivery id. A lease expires `lease_ttl`
 * after it was taken or last renewed; its holder renews it while the
 * delivery runs. A node that starts again drops the leases of its earlier
 * boots (their deliveries died with it); a node that never comes back loses
 * its leases when they expire.
 *
 * No I/O, no clock: `now` (epoch ms) is always an argument.
 */

import type { LaneState } from './lane-state';

/** The prefix of every lease id a node takes in one boot: `<node>/<boot>/`. */
export function leaseOwner(node: string, boot: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(boot)) throw new Error(`paceline: boot id "${boot}" must be [A-Za-z0-9_-]`);
  return `${nodePrefix(node)}${boot}/`;
}

/** The prefix of every lease id a node takes in any boot: `<node>/`. */
export function nodePrefix(node: string): string {
  if (node === '') throw new Error('paceline: a node name must not be empty');
  return `${encodeURIComponent(node)}/`;
}

/**
 * Renews the leases among `ids` that have not expired: each expires `ttlMs`
 * from now, or later if it already did. An expired lease stays expired (its
 * slot may have been taken again).
 */
export function renewLeases(
  prior: LaneState,
  now: number,
  ids: readonly string[],
  ttlMs: number,
): { state: LaneState; renewed: number } {
  const wanted = new Set(ids);
  let renewed = 0;
  const leases = prior.leases.map((l) => {
    if (!wanted.has(l.id) || l.expiresAt <= now) return l;
    renewed += 1;
    return { id: l.id, expiresAt: Math.max(l.expiresAt, now + ttlMs) };
  });
  return { state: { ...prior, leases }, renewed };
}

/**
 * Drops the leases a node took in its earlier boots: ids that start with
 * `node` (nodePrefix()) but not with `owner` (leaseOwner() of the boot now).
 * Other nodes' leases and this boot's are kept.
 */
export function dropEarlierBoots(prior: LaneState, node: string, owner: string): { state: LaneState; dropped: number } {
  const leases = prior.leases.filter((l) => !l.id.startsWith(node) || l.id.startsWith(owner));
  return { state: { ...prior, leases }, dropped: prior.leases.length - leases.length };
}
