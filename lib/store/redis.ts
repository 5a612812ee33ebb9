/**
 * The shared store: pacing state in Redis, so every Haraka worker and every
 * host of a cluster paces one lane together. Each step is one Lua script on
 * one lane's (or one provider's) keys, atomic on the server and timed by
 * Redis's own clock (TIME), so all hosts agree on time. It behaves exactly as
 * the memory store: test/store/conformance.ts proves it on one table and on
 * random sequences.
 *
 * Works with a standalone Redis, a Sentinel-managed one (ioredis follows the
 * master) and a Redis Cluster (all keys of a lane share one hash slot).
 */

import { Cluster, type Redis } from 'ioredis';
import type { Effect, ReactEvent, ReactParams } from '../core/adapt';
import type { AcquireRequest, ClaimRequest, LaneLimits, LaneState } from '../core/lane';
import type { IncidentParams, ProviderState } from '../core/provider-state';
import type { TallyFields } from '../core/tally';
import { HISTORY_MIN_DAYS, type LaneHistory } from '../core/history';
import type { WarmRecord } from '../core/warmup';
import { targetKey, type Control, type ControlRequest, type ControlTarget } from '../core/control';
import { decodeControl } from './redis-control';
import {
  decodeHistory,
  decodeDecision,
  decodeProvider,
  decodeState,
  decodeWarm,
  durationArg,
  incidentArgs,
  item,
  limitArgs,
  reactArgs,
  WARM_FIELDS,
  warmArgs,
} from './redis-codec';
import { RedisKeys } from './redis-keys';
import { defineScripts, type ScriptRunner } from './redis-scripts';
import type { LaneReason, LaneRef, PacingStore, StoreResult } from './types';

export interface RedisStoreOptions {
  /** Key prefix, e.g. `paceline:`; lets several installations share one Redis. No `{` or `}`. */
  readonly prefix: string;
  /**
   * TESTS ONLY. Returns the epoch ms every script uses instead of Redis TIME,
   * so a test can drive this store and a MemoryStore with the same fake clock.
   * Never set it in production: hosts would stop sharing one clock.
   */
  readonly clockOverride?: () => number;
}

const EFFECTS: ReadonlySet<string> = new Set<Effect>([
  'slowed',
  'overshot',
  'extended',
  'held',
  'capped',
  'suspended',
  'blocked',
  'counted',
  'forgiven',
]);

/** Lanes per batch of peek scripts when listing every lane. */
const LIST_BATCH = 256;

export class RedisStore implements PacingStore {
  private readonly keys: RedisKeys;
  private readonly run: ScriptRunner;

  /**
   * `client` is a connected ioredis Redis (standalone or Sentinel) or Cluster,
   * without a `keyPrefix` of its own; the store owns it from now on (close() ends it).
   */
  constructor(
    private readonly client: Redis | Cluster,
    private readonly options: RedisStoreOptions,
  ) {
    if ((client.options as { keyPrefix?: string }).keyPrefix) {
      throw new Error('paceline: give the Redis store a client without keyPrefix; use the store prefix instead');
    }
    this.keys = new RedisKeys(options.prefix);
    this.run = defineScripts(client);
  }

  /** ARGV[1] of every script: the test clock, or '' for Redis TIME. */
  private clock(): string {
    return this.options.clockOverride ? String(this.options.clockOverride()) : '';
  }

  /**
   * One read-only script per lane and one for the provider (lanes live in
   * different Cluster slots), sent together: one round trip with
   * auto-pipelining (per node, in parallel, on a Cluster). `now` is the
   * latest of the scripts' clocks.
   */
  async peek(
    lanes: readonly LaneRef[],
    provider: string,
  ): Promise<StoreResult<{ lanes: LaneState[]; provider: ProviderState }>> {
    const laneReplies = lanes.map((l) => this.run('peek', this.keys.lane(l), [this.clock()]));
    const providerReply = this.run('provider-peek', [this.keys.provider(provider)], [this.clock()]);
    const replies = await Promise.all([...laneReplies, providerReply]);
    const now = Math.max(...replies.map((r) => Number(item(r, 0))));
    const states = replies.slice(0, lanes.length).map((r) => decodeState(r, 1));
    return { now, value: { lanes: states, provider: decodeProvider(replies[lanes.length], 1) } };
  }

  async acquire(lane: LaneRef, limits: LaneLimits, req: AcquireRequest) {
    const args = [this.clock(), req.mode, req.leaseId, String(req.leaseMs), ...limitArgs(limits)];
    return decodeDecision(await this.run('acquire', this.keys.lane(lane), args), req.leaseId);
  }

  async claim(lane: LaneRef, limits: LaneLimits, req: ClaimRequest) {
    const args = [
      this.clock(),
      String(req.slot),
      String(req.epoch),
      req.leaseId,
      String(req.leaseMs),
      ...limitArgs(limits),
    ];
    return decodeDecision(await this.run('claim', this.keys.lane(lane), args), req.leaseId);
  }

  async release(
    lane: LaneRef,
    limits: LaneLimits,
    leaseId: string,
    delivered: boolean,
    durationMs?: number,
  ): Promise<void> {
    const args = [this.clock(), leaseId, delivered ? '1' : '0', durationArg(durationMs), ...limitArgs(limits)];
    await this.run('release', this.keys.lane(lane), args);
  }

  async renew(lane: LaneRef, leaseIds: readonly string[], ttlMs: number): Promise<number> {
    if (leaseIds.length === 0) return 0;
    const reply = await this.run('renew', this.keys.lane(lane), [this.clock(), String(ttlMs), ...leaseIds]);
    return Number(item(reply, 1));
  }

  /** SCAN of each master's lease keys under this prefix, one script per key. */
  async releaseStale(node: string, owner: string): Promise<number> {
    let dropped = 0;
    for (const master of this.masters()) {
      let cursor = '0';
      do {
        const [next, keys] = await master.scan(cursor, 'MATCH', this.keys.leasePattern(), 'COUNT', 1000);
        cursor = next;
        const counts = await Promise.all(keys.map((key) => this.run('release-stale', [key], [node, owner])));
        dropped += counts.reduce<number>((sum, n) => sum + Number(n), 0);
      } while (cursor !== '0');
    }
    return dropped;
  }

  async react(lane: LaneRef, limits: LaneLimits, event: ReactEvent, params: ReactParams) {
    const reply = await this.run('react', this.keys.lane(lane), [
      this.clock(),
      ...reactArgs(event, params),
      ...limitArgs(limits),
    ]);
    const effect = item(reply, 0);
    if (!EFFECTS.has(effect)) throw new Error(`paceline: unknown effect "${effect}" from Redis`);
    return { now: Number(item(reply, 1)), value: { effect: effect as Effect, state: decodeState(reply, 2) } };
  }

  async hit(lane: LaneRef, rule: string, windowMs: number): Promise<number> {
    return Number(await this.run('hit', [this.keys.hits(lane, rule)], [this.clock(), String(windowMs)]));
  }

  async providerThrottle(provider: string, source: string, sources: number, params: IncidentParams) {
    const args = [this.clock(), ...incidentArgs(params), source, String(sources)];
    const reply = (await this.run('provider-throttle', [this.keys.provider(provider)], args)) as unknown[];
    const explained = reply
      .slice(3)
      .map((_, i) => item(reply, i + 3))
      .sort();
    return { incident: item(reply, 1) === '1', explained, pauseUntil: Number(item(reply, 2)) };
  }

  async providerProbe(provider: string, params: IncidentParams) {
    const reply = await this.run(
      'provider-probe',
      [this.keys.provider(provider)],
      [this.clock(), ...incidentArgs(params)],
    );
    return { now: Number(item(reply, 0)), value: { ok: item(reply, 1) === '1', at: Number(item(reply, 2)) } };
  }

  async providerDelivered(provider: string): Promise<void> {
    await this.run('provider-delivered', [this.keys.provider(provider)], [this.clock()]);
  }

  async warmRecord(lane: LaneRef): Promise<WarmRecord | null> {
    const values = await this.client.hmget(this.keys.warm(lane), ...WARM_FIELDS);
    if (values.every((v) => v === null)) return null;
    return decodeWarm(
      WARM_FIELDS.flatMap((f, i) => [f, values[i] ?? '0']),
      0,
    );
  }

  async saveWarmRecord(lane: LaneRef, record: WarmRecord): Promise<WarmRecord> {
    const reply = await this.run('warm-save', [this.keys.warm(lane)], [String(record.evaluated), ...warmArgs(record)]);
    return decodeWarm(reply, 1);
  }

  async putWarmRecord(lane: LaneRef, record: WarmRecord): Promise<void> {
    await this.run('warm-save', [this.keys.warm(lane)], ['force', ...warmArgs(record)]);
  }

  async sourceStart(source: string, today: number): Promise<number> {
    return Number(await this.run('source-start', [this.keys.sourceStart(source)], [String(today)]));
  }

  async controls(): Promise<StoreResult<Control[]>> {
    const reply = (await this.run('control', [this.keys.controls()], [this.clock(), 'list'])) as unknown[];
    const values = reply.slice(1).map((_, i) => decodeControl(item(reply, i + 1)));
    return { now: Number(item(reply, 0)), value: values };
  }

  async setControl(req: ControlRequest): Promise<StoreResult<Control>> {
    const args = [
      this.clock(),
      'set',
      targetKey(req.target),
      JSON.stringify(req.target),
      String(req.forMs),
      req.reason,
      req.who,
    ];
    const reply = await this.run('control', [this.keys.controls()], args);
    return { now: Number(item(reply, 0)), value: decodeControl(item(reply, 1)) };
  }

  async clearControl(target: ControlTarget): Promise<StoreResult<Control | null>> {
    const reply = await this.run('control', [this.keys.controls()], [this.clock(), 'clear', targetKey(target)]);
    const value = item(reply, 1);
    return { now: Number(item(reply, 0)), value: value === '' ? null : decodeControl(value) };
  }

  async laneControl(lane: LaneRef, op: 'lift' | 'reset'): Promise<boolean> {
    return item(await this.run('lane-control', this.keys.lane(lane), [this.clock(), op]), 1) === '1';
  }

  async liftProvider(provider: string): Promise<boolean> {
    return item(await this.run('provider-lift', [this.keys.provider(provider)], [this.clock()]), 1) === '1';
  }

  async tally(
    lane: LaneRef,
    names: readonly string[],
    dayOffsetMs: number,
    keepDays = HISTORY_MIN_DAYS,
  ): Promise<void> {
    const keys = [this.keys.tally(lane), this.keys.history(lane), this.keys.lane(lane)[0]];
    await this.run('tally', keys, [this.clock(), String(dayOffsetMs), String(keepDays), ...names]);
  }

  /** One HGETALL per lane, sent together; minutes older than 48 h left out, as the memory store does. */
  async histories(lanes: readonly LaneRef[]): Promise<StoreResult<LaneHistory[]>> {
    const [now, ...hashes] = await Promise.all([
      this.serverNow(),
      ...lanes.map((l) => this.client.hgetall(this.keys.history(l))),
    ]);
    return {
      now: now as number,
      value: (hashes as Array<Record<string, string>>).map((h) => decodeHistory(h, now as number)),
    };
  }

  /** One HGETALL per lane (each in its lane's slot), sent together. */
  async tallies(lanes: readonly LaneRef[]): Promise<StoreResult<TallyFields[]>> {
    const [now, ...hashes] = await Promise.all([
      this.serverNow(),
      ...lanes.map((l) => this.client.hgetall(this.keys.tally(l))),
    ]);
    const value = (hashes as Array<Record<string, string>>).map((h) => {
      const fields: TallyFields = {};
      for (const [field, n] of Object.entries(h)) if (field !== 'b') fields[field] = Number(n);
      return fields;
    });
    return { now: now as number, value };
  }

  async reason(lane: LaneRef, r: Omit<LaneReason, 'at'>): Promise<void> {
    await this.run('reason', [this.keys.reason(lane)], [this.clock(), r.effect, r.category, r.rule, r.reply]);
  }

  async reasons(lanes: readonly LaneRef[]): Promise<StoreResult<Array<LaneReason | null>>> {
    const [now, ...hashes] = await Promise.all([
      this.serverNow(),
      ...lanes.map((l) => this.client.hgetall(this.keys.reason(l))),
    ]);
    const value = (hashes as Array<Record<string, string>>).map((h): LaneReason | null =>
      h.at === undefined
        ? null
        : {
            at: Number(h.at),
            effect: h.effect ?? '',
            category: h.category ?? '',
            rule: h.rule ?? '',
            reply: h.reply ?? '',
          },
    );
    return { now: now as number, value };
  }

  /** Every lane with state: SCAN of each master (each Cluster master in turn), then one peek per lane. */
  async lanes(): Promise<StoreResult<Array<{ lane: LaneRef; state: LaneState }>>> {
    const refs: LaneRef[] = [];
    for (const node of this.masters()) refs.push(...(await this.scanLanes(node)));
    const out: Array<{ lane: LaneRef; state: LaneState }> = [];
    let now = 0;
    for (let i = 0; i < refs.length; i += LIST_BATCH) {
      const batch = refs.slice(i, i + LIST_BATCH);
      const replies = await Promise.all(batch.map((l) => this.run('peek', this.keys.lane(l), [this.clock()])));
      replies.forEach((r, j) => {
        now = Math.max(now, Number(item(r, 0)));
        out.push({ lane: batch[j] as LaneRef, state: decodeState(r, 1) });
      });
    }
    return { now: out.length > 0 ? now : await this.serverNow(), value: out };
  }

  /** Ends the client's connections: QUIT, or a hard disconnect when Redis does not answer within 2 s. */
  async close(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)));
    await Promise.race([this.client.quit().catch(() => undefined), late]);
    clearTimeout(timer);
    this.client.disconnect();
  }

  private masters(): Redis[] {
    return this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
  }

  private async scanLanes(node: Redis): Promise<LaneRef[]> {
    const refs: LaneRef[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', this.keys.statePattern(), 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const lane = this.keys.parseStateKey(key);
        if (lane) refs.push(lane);
      }
    } while (cursor !== '0');
    return refs;
  }

  private async serverNow(): Promise<number> {
    if (this.options.clockOverride) return this.options.clockOverride();
    const [seconds, micros] = await this.client.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }
}
