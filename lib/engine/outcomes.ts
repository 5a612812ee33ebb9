/**
 * What happens after a delivery attempt: free the lane's concurrency slot,
 * classify the provider's reply and let the lane (and, for provider-wide
 * incidents, the provider) react. The state lives in the store, so every
 * worker and host sees a reaction at once.
 */

import type { Effect } from '../core/adapt';
import { classify, type Category, type Classification, type Rule } from '../core/classify';
import { zoneOffsetMs } from '../core/day';
import { LOG_TEXT_MAX, logText } from '../core/log-text';
import { parseReply } from '../core/reply';
import { historyDays, markOf } from '../core/history';
import { laneLimits } from '../config/lane-limits';
import type { Config } from '../config/types';
import type { Ticket } from './decision';
import type { LaneRef, PacingStore } from '../store/types';
import { bindError } from './bind-check';
import { type FailureReport, SourceHealth } from '../core/source-health';
import { type LeaseIdentity, LeaseKeeper, localIdentity } from './lease-keeper';

/** Classifies a remote reply (raw text as Haraka reports it) for a provider. */
export type Classifier = (reply: string, provider: string) => Classification;

/** The classifier of a rule list (paceline-replies.yaml). */
export function rulesClassifier(rules: readonly Rule[]): Classifier {
  return (reply, provider) => {
    const { category, rule } = classify(parseReply(reply), provider, rules);
    if (!rule) return { category };
    return {
      category,
      rule: rule.name,
      ...(rule.durationMs !== undefined ? { durationMs: rule.durationMs } : {}),
      ...(rule.threshold ? { threshold: rule.threshold } : {}),
    };
  };
}

export interface Attempt {
  /** The message was accepted by the receiver. */
  readonly delivered: boolean;
  /** The remote reply of a failed attempt, when there was one. */
  readonly reply?: string;
  /** The lane of a message split off by Haraka (it has no lease of its own). */
  readonly lane?: LaneRef;
  /** No MX host was reached: bind or connect failed on every one (Haraka's "Tried all MXs"); no reply to classify. */
  readonly unreached?: boolean;
  /** Haraka bounced the message (a permanent failure, or no retries left); else a failure is a deferral. */
  readonly bounced?: boolean;
  /** paceline bounced it unsent, past max_delay: counted as bounced, not as an attempt. */
  readonly expired?: boolean;
}

/**
 * The counter names of one attempt (see lib/core/tally.ts): attempts,
 * delivered | bounced | deferred:<category> (`unreached` when no MX host was
 * reached, `none` without a reply), and throttles for a reply the rules call
 * throttle.
 */
export function tallyNames(attempt: Attempt, category: Category | undefined): string[] {
  const names = attempt.expired ? [] : ['attempts'];
  const why = attempt.unreached ? 'unreached' : (category ?? 'none');
  names.push(attempt.delivered ? 'delivered' : attempt.bounced || attempt.expired ? 'bounced' : `deferred:${why}`);
  if (category === 'throttle') names.push('throttles');
  return names;
}

export interface OutcomeReport {
  readonly lane: LaneRef;
  readonly category?: Category;
  readonly rule?: string;
  readonly effect?: Effect;
  /** A provider-wide incident was declared or prolonged. */
  readonly incident?: boolean;
  /** When the lane reopens, if a reaction closed it, or when the message should come back (epoch ms). */
  readonly reopensAt?: number;
  /** The attempt reached no MX host: the source's failures in a row, and why (see SourceHealth). */
  readonly unreached?: FailureReport & { readonly reason: string };
  /** The source had failures in a row and this attempt reached an MX host: it is counted healthy again. */
  readonly recovered?: boolean;
}

/**
 * A message whose attempt reached no MX host comes back this soon (ms) when
 * another source of a pool of its source is up: it leaves from that one
 * instead of waiting for Haraka's next retry interval.
 */
export const UNREACHED_RETRY_MS = 2000;

/** A message refused while its lane had too many sessions open is tried again this soon (ms), paced. */
export const CAPPED_RETRY_MS = 2000;

/** Reactions that change what a lane may do: status shows the reply that caused the last one. */
const REASON_EFFECTS: ReadonlySet<Effect> = new Set<Effect>([
  'slowed',
  'overshot',
  'extended',
  'capped',
  'suspended',
  'blocked',
]);

export class Outcomes {
  protected classifier: Classifier;
  /** The leases of this process's deliveries in flight, renewed while they run. */
  readonly leases: LeaseKeeper;

  /** Sources of this process that reach no MX host (per process: see SourceHealth). */
  readonly health: SourceHealth;

  /** Day buckets of lane history kept: the longest warm-up schedule plus a day. */
  private keepDays: number;

  /** Without a classifier, the config's reply rules classify; without an identity, a node 'local' of a new boot. */
  constructor(
    protected config: Config,
    protected readonly store: PacingStore,
    protected readonly clock: () => number,
    classifier?: Classifier,
    identity: LeaseIdentity = localIdentity(),
  ) {
    this.classifier = classifier ?? rulesClassifier(config.rules);
    this.health = new SourceHealth({
      downAfter: config.settings.sourceDownAfter,
      downMs: config.settings.sourceDownMs,
    });
    this.leases = new LeaseKeeper(store, identity);
    this.keepDays = historyDays(config.schedules.values());
  }

  /** Renews the leases of the deliveries in flight (the plugin calls it every third of lease_ttl). */
  renewLeases(): Promise<number> {
    return this.leases.renew(this.clock(), this.config.settings.leaseTtlMs);
  }

  get current(): Config {
    return this.config;
  }

  /** A reload: the new config and its reply rules (or the given classifier). */
  reconfigure(config: Config, classifier?: Classifier): void {
    this.config = config;
    this.health.reconfigure({ downAfter: config.settings.sourceDownAfter, downMs: config.settings.sourceDownMs });
    this.classifier = classifier ?? rulesClassifier(config.rules);
    this.keepDays = historyDays(config.schedules.values());
  }

  /**
   * Records an attempt's end; returns what it did, or null when the message
   * had no lane. The attempt is counted last (whatever happened before), so
   * the lane's history gets the reaction's mark and the pace it left.
   */
  async outcome(ticket: Ticket, attempt: Attempt): Promise<OutcomeReport | null> {
    const lane = ticket.lease?.lane ?? attempt.lane;
    if (!lane) return null;
    const c =
      attempt.reply !== undefined && !attempt.delivered && !attempt.unreached
        ? this.classifier(attempt.reply, lane.provider)
        : undefined;
    let report: OutcomeReport | undefined;
    try {
      report = await this.settle(ticket, attempt, lane, c);
      return report;
    } finally {
      await this.tally(lane, [...tallyNames(attempt, c?.category), ...markOf(report?.effect, report?.incident)]);
    }
  }

  private async settle(
    ticket: Ticket,
    attempt: Attempt,
    lane: LaneRef,
    c: Classification | undefined,
  ): Promise<OutcomeReport> {
    const lease = ticket.lease;
    delete ticket.lease;
    const limits = lease?.limits ?? laneLimits(this.config, lane.source, lane.provider);
    if (lease) {
      this.leases.forget(lease.id);
      const duration = attempt.delivered ? this.clock() - lease.startedAt : undefined;
      await this.store.release(lane, limits, lease.id, attempt.delivered, duration);
    }
    if (attempt.unreached && !attempt.delivered) {
      const unreached = await this.unreached(lane.source);
      const soon = this.otherSourceUp(lane.source) ? { reopensAt: this.clock() + UNREACHED_RETRY_MS } : {};
      return { lane, unreached, ...soon };
    }
    const recovered = this.health.reached(lane.source) ? { recovered: true } : {};
    if (attempt.delivered) {
      if (ticket.probe) await this.store.providerDelivered(lane.provider);
      delete ticket.probe;
      return { lane, ...recovered };
    }
    if (!c || !this.config.settings.adapt.enabled) return { lane, ...recovered };
    return { ...(await this.react(lane, limits, c, attempt.reply as string, lease?.startedAt)), ...recovered };
  }

  /** Counts the attempt for `paceline status` and the dashboard; a store that fails loses the count, never the outcome. */
  private async tally(lane: LaneRef, names: readonly string[]): Promise<void> {
    const now = this.clock();
    const offset = zoneOffsetMs(this.config.settings.timezone, now);
    await this.store.tally(lane, names, offset, this.keepDays).catch(() => undefined);
  }

  /** True when a pool of `source` has another source that is not marked down. */
  private otherSourceUp(source: string): boolean {
    const now = this.clock();
    for (const pool of this.config.pools.values()) {
      if (pool.sources.includes(source) && pool.sources.some((s) => s !== source && !this.health.isDown(s, now)))
        return true;
    }
    return false;
  }

  /** Counts a failure that reached no MX host against the source; says whether its address binds here. */
  private async unreached(source: string): Promise<FailureReport & { reason: string }> {
    const address = this.config.sources.get(source)?.address;
    const code = address ? await bindError(address) : undefined;
    const reason = code ? `cannot bind ${address} (${code})` : 'no connection to any MX host';
    return { ...this.health.failed(source, this.clock(), reason), reason };
  }

  private async react(
    lane: LaneRef,
    limits: ReturnType<typeof laneLimits>,
    c: Classification,
    reply: string,
    sentAt?: number,
  ): Promise<OutcomeReport> {
    const adapt = this.config.settings.adapt;
    let category = c.category;
    if (c.threshold && c.rule && category !== 'unknown') {
      const hits = await this.store.hit(lane, c.rule, c.threshold.windowMs);
      if (hits < c.threshold.count) category = 'transient';
    }
    const event = {
      category,
      ...(c.durationMs !== undefined ? { durationMs: c.durationMs } : {}),
      ...(sentAt !== undefined ? { sentAt } : {}),
    };
    const { now, value } = await this.store.react(lane, limits, event, adapt.react);
    if (REASON_EFFECTS.has(value.effect)) {
      const why = { effect: value.effect, category, rule: c.rule ?? '', reply: logText(reply, LOG_TEXT_MAX) };
      await this.store.reason(lane, why).catch(() => undefined);
    }
    const incidentUntil = value.effect === 'slowed' ? await this.checkIncident(lane) : 0;
    const s = value.state;
    // a message refused for its lane's sessions comes back to be paced, not after Haraka's next retry interval
    const soon = value.effect === 'capped' ? now + CAPPED_RETRY_MS : 0;
    const reopensAt = Math.max(s.pauseUntil, s.blockedAt ? s.trialAt : 0, incidentUntil, soon);
    const incident = incidentUntil > 0;
    return {
      lane,
      category,
      ...(c.rule ? { rule: c.rule } : {}),
      effect: value.effect,
      incident,
      ...(reopensAt > 0 ? { reopensAt } : {}),
    };
  }

  /**
   * A throttle reaction counts toward a provider-wide incident. When one is
   * declared, the lanes whose reactions it explains are forgiven: the pause is
   * the provider's, not theirs. Returns the provider's pause end, 0 without incident.
   */
  private async checkIncident(lane: LaneRef): Promise<number> {
    const sources = this.config.sources.size;
    const r = await this.store.providerThrottle(
      lane.provider,
      lane.source,
      sources,
      this.config.settings.adapt.incident,
    );
    if (!r.incident) return 0;
    await Promise.all(
      r.explained.map((source) => {
        const l = { source, provider: lane.provider };
        // every incident (declared or prolonged) pauses the provider incident.pauseMs from
        // the store's now: the same duration on the store's clock, not this host's
        const event = { category: 'forgive' as const, durationMs: this.config.settings.adapt.incident.pauseMs };
        return this.store.react(
          l,
          laneLimits(this.config, source, lane.provider),
          event,
          this.config.settings.adapt.react,
        );
      }),
    );
    return r.pauseUntil;
  }
}
