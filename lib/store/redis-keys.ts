/**
 * Every Redis key paceline uses, built in one place.
 *
 * Layout (`<prefix>` is the configured prefix and a colon, e.g. `paceline:`; schema `v1`):
 *
 *   <prefix>v1:s:{<source>|<provider>}         HASH  lane state (fields: STATE_FIELDS
 *                                                    in redis-scripts.ts; times in epoch ms)
 *   <prefix>v1:l:{<source>|<provider>}         ZSET  concurrency leases: member = lease id,
 *                                                    score = expiry (epoch ms)
 *   <prefix>v1:h:{<source>|<provider>}:<rule>  ZSET  a rule's recent matches on the lane,
 *                                                    scored by time (epoch ms)
 *   <prefix>v1:p:{<provider>}                  HASH  provider incident state: pu, pr, pa, dc,
 *                                                    t:<source> (epoch ms)
 *   <prefix>v1:w:{<source>|<provider>}         HASH  warm-up record (WARM_FIELDS, day numbers)
 *   <prefix>v1:src:{<source>}                  STRING day number the source's warm-up started
 *   <prefix>v1:ctl                             HASH  operator controls: field = targetKey(),
 *                                                    value = JSON (lua/control-1.lua)
 *   <prefix>v1:t:{<source>|<provider>}         HASH  outcome counters (lib/core/tally.ts fields)
 *   <prefix>v1:r:{<source>|<provider>}         HASH  the last reaction's reason: at, effect, category,
 *                                                    rule, reply
 *   <prefix>v1:rep:{<process id>}              STRING one Haraka process's status report: "<until ms>\n<JSON>",
 *                                                    expiring at until (lua/report-1.lua)
 *   <prefix>v1:y:{<source>|<provider>}         HASH  the lane's history (lib/core/history.ts):
 *                                                    m<minute>, d<day> = JSON; lm, ld, nm, nd
 *
 * The `{source|provider}` hash tag puts every key of a lane in one Cluster
 * slot, so each script touches one slot, and lanes spread over the slots.
 * A new layout bumps `v1`, so old and new code never misread each other's keys.
 */

import type { LaneRef } from './types';

/** Schema version of the key layout and the hash fields. */
export const SCHEMA = 'v1';

/** Escapes glob metacharacters for SCAN MATCH. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

export class RedisKeys {
  private readonly base: string;

  /**
   * `prefix` (`paceline` or `paceline:`; a `:` is added when missing) must not
   * contain `{` or `}`, which would move the Cluster hash tag.
   */
  constructor(readonly prefix: string) {
    if (/[{}]/.test(prefix)) throw new Error(`paceline: Redis key prefix "${prefix}" must not contain "{" or "}"`);
    this.base = `${prefix === '' || prefix.endsWith(':') ? prefix : `${prefix}:`}${SCHEMA}:`;
  }

  /** The hash tag of a lane (what Cluster hashes to pick the slot). */
  tag(lane: LaneRef): string {
    return `{${lane.source}|${lane.provider}}`;
  }

  /** KEYS of the lane scripts, in script order: [state hash, lease zset]. */
  lane(lane: LaneRef): [string, string] {
    const tag = this.tag(lane);
    return [`${this.base}s:${tag}`, `${this.base}l:${tag}`];
  }

  /** The ZSET of a rule's recent matches on a lane. */
  hits(lane: LaneRef, rule: string): string {
    return `${this.base}h:${this.tag(lane)}:${rule}`;
  }

  /** The provider's incident state. */
  provider(provider: string): string {
    return `${this.base}p:{${provider}}`;
  }

  /** A lane's warm-up record. */
  warm(lane: LaneRef): string {
    return `${this.base}w:${this.tag(lane)}`;
  }

  /** A lane's outcome counters. */
  tally(lane: LaneRef): string {
    return `${this.base}t:${this.tag(lane)}`;
  }

  /** A lane's history buckets (minutes and days). */
  history(lane: LaneRef): string {
    return `${this.base}y:${this.tag(lane)}`;
  }

  /** Why a lane's state last changed. */
  reason(lane: LaneRef): string {
    return `${this.base}r:${this.tag(lane)}`;
  }

  /** The day a source's warm-up started. */
  sourceStart(source: string): string {
    return `${this.base}src:{${source}}`;
  }

  /** The operator controls of this installation (one key: every node reads it). */
  controls(): string {
    return `${this.base}ctl`;
  }

  /** One Haraka process's status report (its sources with failures and its waiting messages). */
  report(id: string): string {
    return `${this.base}rep:{${id.replace(/[{}]/g, '_')}}`;
  }

  /** SCAN MATCH pattern for the status reports of every process under this prefix and schema. */
  reportPattern(): string {
    return `${globEscape(this.base)}rep:{*}`;
  }

  /** SCAN MATCH pattern for the state keys of every lane under this prefix and schema. */
  statePattern(): string {
    return `${globEscape(this.base)}s:{*}`;
  }

  /** SCAN MATCH pattern for the lease keys of every lane under this prefix and schema. */
  leasePattern(): string {
    return `${globEscape(this.base)}l:{*}`;
  }

  /** The lane a state key belongs to; undefined for a key of another shape. */
  parseStateKey(key: string): LaneRef | undefined {
    const head = `${this.base}s:{`;
    if (!key.startsWith(head) || !key.endsWith('}')) return undefined;
    const inner = key.slice(head.length, -1);
    const bar = inner.indexOf('|');
    if (bar < 0) return undefined;
    return { source: inner.slice(0, bar), provider: inner.slice(bar + 1) };
  }
}
