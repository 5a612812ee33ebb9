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
import type { AcquireRequest, ClaimRequest, LaneLimits, LaneState } from '../core/lane-state';
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
  optionalArg,
  incidentArgs,
  item,
  limitArgs,
  reactArgs,
  WARM_FIELDS,
  warmArgs,
} from './redis-codec';
import { RedisKeys } from './redis-keys';
import { defineScripts, type ScriptName, type ScriptRunner } from './redis-scripts';
import { type ArgValue, scriptArgs } from './script-args';
import type { LaneReason, LaneRef, PacingStore, ProcessReport, StoreResult } from './types';

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
  'grouped',
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
  /** Runs a script with its ARGV built from named values in the order of script-args.ts. */
  private call(
    name: ScriptName,
    keys: readonly string[],
    values: Readonly<Record<string, ArgValue>>,
  ): Promise<unknown> {
    return this.run(name, keys, scriptArgs(name, values));
  }

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
    const laneReplies = lanes.map((l) => this.call('peek', this.keys.lane(l), { clock: this.clock() }));
    const providerReply = this.call('provider-peek', [this.keys.provider(provider)], { clock: this.clock() });
    const replies = await Promise.all([...laneReplies, providerReply]);
    const now = Math.max(...replies.map((r) => Number(item(r, 0))));
    const states = replies.slice(0, lanes.length).map((r) => decodeState(r, 1));
    return { now, value: { lanes: states, provider: decodeProvider(replies[lanes.length], 1) } };
  }

  async acquire(lane: LaneRef, limits: LaneLimits, req: AcquireRequest) {
    const { mode, leaseId, leaseMs } = req;
    const args = { clock: this.clock(), mode, leaseId, leaseMs, limits: limitArgs(limits) };
    return decodeDecision(await this.call('acquire', this.keys.lane(lane), args), req.leaseId);
  }

  async claim(lane: LaneRef, limits: LaneLimits, req: ClaimRequest) {
    const { slot, epoch, leaseId, leaseMs } = req;
    const args = { clock: this.clock(), slot, epoch, leaseId, leaseMs, limits: limitArgs(limits) };
    return decodeDecision(await this.call('claim', this.keys.lane(lane), args), req.leaseId);
  }

  async release(
    lane: LaneRef,
    limits: LaneLimits,
    leaseId: string,
    delivered: boolean,
    durationMs?: number,
  ): Promise<void> {
    const args = {
      clock: this.clock(),
      leaseId,
      delivered: delivered ? '1' : '0',
      durationMs: durationArg(durationMs),
      limits: limitArgs(limits),
    };
    await this.call('release', this.keys.lane(lane), args);
  }

  async renew(lane: LaneRef, leaseIds: readonly string[], ttlMs: number): Promise<number> {
    if (leaseIds.length === 0) return 0;
    const reply = await this.call('renew', this.keys.lane(lane), { clock: this.clock(), ttlMs, leaseIds });
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
        const counts = await Promise.all(
          keys.map((key) => this.call('release-stale', [key], { nodePrefix: node, ownerPrefix: owner })),
        );
        dropped += counts.reduce<number>((sum, n) => sum + Number(n), 0);
      } while (cursor !== '0');
    }
    return dropped;
  }

  async react(lane: LaneRef, limits: LaneLimits, event: ReactEvent, params: ReactParams) {
    const reply = await this.call('react', this.keys.lane(lane), {
      clock: this.clock(),
      category: event.category,
      durationMs: optionalArg(event.durationMs),
      sentAt: optionalArg(event.sentAt),
      react: reactArgs(params),
      limits: limitArgs(limits),
    });
    const effect = item(reply, 0);
    if (!EFFECTS.has(effect)) throw new Error(`paceline: unknown effect "${effect}" from Redis`);
    return { now: Number(item(reply, 1)), value: { effect: effect as Effect, state: decodeState(reply, 2) } };
  }

  async hit(lane: LaneRef, rule: string, windowMs: number): Promise<number> {
    return Number(await this.call('hit', [this.keys.hits(lane, rule)], { clock: this.clock(), windowMs }));
  }

  async providerThrottle(provider: string, source: string, sources: number, params: IncidentParams) {
    const args = { clock: this.clock(), incident: incidentArgs(params), source, sources };
    const reply = (await this.call('provider-throttle', [this.keys.provider(provider)], args)) as unknown[];
    const explained = reply
      .slice(3)
      .map((_, i) => item(reply, i + 3))
      .sort();
    return { incident: item(reply, 1) === '1', explained, pauseUntil: Number(item(reply, 2)) };
  }

  async providerProbe(provider: string, params: IncidentParams) {
    const reply = await this.call('provider-probe', [this.keys.provider(provider)], {
      clock: this.clock(),
      incident: incidentArgs(params),
    });
    return { now: Number(item(reply, 0)), value: { ok: item(reply, 1) === '1', at: Number(item(reply, 2)) } };
  }

  async providerDelivered(provider: string): Promise<void> {
    await this.call('provider-delivered', [this.keys.provider(provider)], { clock: this.clock() });
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
    const reply = await this.call('warm-save', [this.keys.warm(lane)], {
      evaluated: record.evaluated,
      record: warmArgs(record),
    });
    return decodeWarm(reply, 1);
  }

  async putWarmRecord(lane: LaneRef, record: WarmRecord): Promise<void> {
    await this.call('warm-save', [this.keys.warm(lane)], { evaluated: 'force', record: warmArgs(record) });
  }

  async sourceStart(source: string, today: number): Promise<number> {
    return Number(await this.call('source-start', [this.keys.sourceStart(source)], { today }));
  }

  async controls(): Promise<StoreResult<Control[]>> {
    const reply = (await this.call('control', [this.keys.controls()], {
      clock: this.clock(),
      op: 'list',
    })) as unknown[];
    const values = reply.slice(1).map((_, i) => decodeControl(item(reply, i + 1)));
    return { now: Number(item(reply, 0)), value: values };
  }

  async setControl(req: ControlRequest): Promise<StoreResult<Control>> {
    const args = {
      clock: this.clock(),
      op: 'set',
      targetKey: targetKey(req.target),
      target: JSON.stringify(req.target),
      forMs: req.forMs,
      reason: req.reason,
      who: req.who,
    };
    const reply = await this.call('control', [this.keys.controls()], args);
    return { now: Number(item(reply, 0)), value: decodeControl(item(reply, 1)) };
  }

  async clearControl(target: ControlTarget): Promise<StoreResult<Control | null>> {
    const reply = await this.call('control', [this.keys.controls()], {
      clock: this.clock(),
      op: 'clear',
      targetKey: targetKey(target),
    });
    const value = item(reply, 1);
    return { now: Number(item(reply, 0)), value: value === '' ? null : decodeControl(value) };
  }

  async laneControl(lane: LaneRef, op: 'lift' | 'reset'): Promise<boolean> {
    return item(await this.call('lane-control', this.keys.lane(lane), { clock: this.clock(), op }), 1) === '1';
  }

  async liftProvider(provider: string): Promise<boolean> {
    return item(await this.call('provider-lift', [this.keys.provider(provider)], { clock: this.clock() }), 1) === '1';
  }

  async tally(
    lane: LaneRef,
    names: readonly string[],
    dayOffsetMs: number,
    keepDays = HISTORY_MIN_DAYS,
  ): Promise<void> {
    const keys = [this.keys.tally(lane), this.keys.history(lane), this.keys.lane(lane)[0]];
    await this.call('tally', keys, { clock: this.clock(), dayOffsetMs, keepDays, names });
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
    await this.call('reason', [this.keys.reason(lane)], { clock: this.clock(), ...r });
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
      const replies = await Promise.all(
        batch.map((l) => this.call('peek', this.keys.lane(l), { clock: this.clock() })),
      );
      replies.forEach((r, j) => {
        now = Math.max(now, Number(item(r, 0)));
        out.push({ lane: batch[j] as LaneRef, state: decodeState(r, 1) });
      });
    }
    return { now: out.length > 0 ? now : await this.serverNow(), value: out };
  }

  async report(id: string, text: string, ttlMs: number): Promise<void> {
    await this.call('report', [this.keys.report(id)], {
      clock: this.clock(),
      text,
      ttlMs: String(Math.max(1, Math.round(ttlMs))),
    });
  }

  /** SCAN of each master's report keys, then a GET of each; a report past its time is left out. */
  async reports(): Promise<StoreResult<ProcessReport[]>> {
    const now = await this.serverNow();
    const out: ProcessReport[] = [];
    for (const node of this.masters()) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', this.keys.reportPattern(), 'COUNT', 1000);
        cursor = next;
        const values = await Promise.all(keys.map((key) => node.get(key)));
        keys.forEach((key, i) => {
          const r = decodeReport(key, values[i] ?? null);
          if (r && r.until > now) out.push(r);
        });
      } while (cursor !== '0');
    }
    return { now, value: out.sort((a, b) => a.id.localeCompare(b.id)) };
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

/** A report key's value, `<until>\n<text>`; null when it is not one (or expired between SCAN and GET). */
function decodeReport(key: string, value: string | null): ProcessReport | null {
  const cut = value ? value.indexOf('\n') : -1;
  if (!value || cut < 0) return null;
  const id = key.slice(key.indexOf('rep:{') + 5, -1);
  return { id, text: value.slice(cut + 1), until: Number(value.slice(0, cut)) };
}
