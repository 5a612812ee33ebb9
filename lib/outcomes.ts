/**
 * What happens after a delivery attempt: free the lane's concurrency slot,
 * classify the provider's reply and let the lane (and, for provider-wide
 * incidents, the provider) react. The state lives in the store, so every
 * worker and host sees a reaction at once.
 */

import type { Effect } from './core/adapt';
import { classify, type Category, type Rule } from './core/classify';
import { parseReply } from './core/reply';
import { laneLimits } from './config/lane-limits';
import type { Config } from './config/types';
import type { Ticket } from './engine';
import type { LaneRef, PacingStore } from './store/types';
import { LeaseKeeper, localIdentity, type LeaseIdentity } from './lease-keeper';

/** What a classifier says about one reply. */
export interface Classification {
  readonly category: Category;
  /** Name of the rule that matched, for logs and metrics. */
  readonly rule?: string;
  /** The rule's own duration for the reaction (suspensions, caps). */
  readonly durationMs?: number;
  /** The rule acts only after `count` matches within `windowMs` on the lane. */
  readonly threshold?: { readonly count: number; readonly windowMs: number };
}

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
}

export interface OutcomeReport {
  readonly lane: LaneRef;
  readonly category?: Category;
  readonly rule?: string;
  readonly effect?: Effect;
  /** A provider-wide incident was declared or prolonged. */
  readonly incident?: boolean;
  /** When the lane reopens, if a reaction closed it (epoch ms). */
  readonly reopensAt?: number;
}

/** A message refused while its lane had too many sessions open is tried again this soon (ms), paced. */
export const CAPPED_RETRY_MS = 2000;

export class Outcomes {
  protected classifier: Classifier;
  /** The leases of this process's deliveries in flight, renewed while they run. */
  readonly leases: LeaseKeeper;

  /** Without a classifier, the config's reply rules classify; without an identity, a node 'local' of a new boot. */
  constructor(
    protected config: Config,
    protected readonly store: PacingStore,
    protected readonly clock: () => number,
    classifier?: Classifier,
    identity: LeaseIdentity = localIdentity(),
  ) {
    this.classifier = classifier ?? rulesClassifier(config.rules);
    this.leases = new LeaseKeeper(store, identity);
  }

  /** Renews the leases of the deliveries in flight (the plugin calls it every third of lease_ttl). */
  renewLeases(): Promise<number> {
    return this.leases.renew(this.clock(), this.config.settings.leaseTtlMs);
  }

  get current(): Config {
    return this.config;
  }

  /** Records an attempt's end; returns what it did, or null when the message had no lane. */
  async outcome(ticket: Ticket, attempt: Attempt): Promise<OutcomeReport | null> {
    const lease = ticket.lease;
    delete ticket.lease;
    const lane = lease?.lane ?? attempt.lane;
    if (!lane) return null;
    const limits = lease?.limits ?? laneLimits(this.config, this.config.settings.defaultPool, lane.source, lane.provider);
    if (lease) {
      this.leases.forget(lease.id);
      const duration = attempt.delivered ? this.clock() - lease.startedAt : undefined;
      await this.store.release(lane, limits, lease.id, attempt.delivered, duration);
    }
    if (attempt.delivered) {
      if (ticket.probe) await this.store.providerDelivered(lane.provider);
      delete ticket.probe;
      return { lane };
    }
    if (attempt.reply === undefined || !this.config.settings.adapt.enabled) return { lane };
    return this.react(lane, limits, attempt.reply, lease?.startedAt);
  }

  private async react(lane: LaneRef, limits: ReturnType<typeof laneLimits>, reply: string, sentAt?: number): Promise<OutcomeReport> {
    const adapt = this.config.settings.adapt;
    const c = this.classifier(reply, lane.provider);
    let category = c.category;
    if (c.threshold && c.rule && category !== 'unknown') {
      const hits = await this.store.hit(lane, c.rule, c.threshold.windowMs);
      if (hits < c.threshold.count) category = 'transient';
    }
    const event = { category, ...(c.durationMs !== undefined ? { durationMs: c.durationMs } : {}), ...(sentAt !== undefined ? { sentAt } : {}) };
    const { now, value } = await this.store.react(lane, limits, event, adapt.react);
    const incidentUntil = value.effect === 'slowed' ? await this.checkIncident(lane) : 0;
    const s = value.state;
    // a message refused for its lane's sessions comes back to be paced, not after Haraka's next retry interval
    const soon = value.effect === 'capped' ? now + CAPPED_RETRY_MS : 0;
    const reopensAt = Math.max(s.pauseUntil, s.blockedAt ? s.probeAt : 0, incidentUntil, soon);
    const incident = incidentUntil > 0;
    return { lane, category, ...(c.rule ? { rule: c.rule } : {}), effect: value.effect, incident, ...(reopensAt > 0 ? { reopensAt } : {}) };
  }

  /**
   * A throttle reaction counts toward a provider-wide incident. When one is
   * declared, the lanes whose reactions it explains are forgiven: the pause is
   * the provider's, not theirs. Returns the provider's pause end, 0 without incident.
   */
  private async checkIncident(lane: LaneRef): Promise<number> {
    const sources = this.config.sources.size;
    const r = await this.store.providerThrottle(lane.provider, lane.source, sources, this.config.settings.adapt.incident);
    if (!r.incident) return 0;
    await Promise.all(
      r.explained.map((source) => {
        const l = { source, provider: lane.provider };
        // every incident (declared or prolonged) pauses the provider incident.pauseMs from
        // the store's now: the same duration on the store's clock, not this host's
        const event = { category: 'forgive' as const, durationMs: this.config.settings.adapt.incident.pauseMs };
        return this.store.react(l, laneLimits(this.config, this.config.settings.defaultPool, source, lane.provider), event, this.config.settings.adapt.react);
      }),
    );
    return r.pauseUntil;
  }
}
