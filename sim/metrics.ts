/**
 * What one strategy's run produced, counted as it happens, and the figures
 * derived from it for the comparison table.
 */

import type { Scenario, SimMessage } from './scenario';

interface ProviderCount {
  attempts: number;
  throttles: number;
  delivered: number;
}

/** Counters of one run; `deliveries` counts acceptances per message id to catch loss and duplicates. */
export class Tally {
  attempts = 0;
  /** Engine decisions asked for (each is one hook_send_email call in Haraka). */
  decisions = 0;
  throttles = 0;
  delivered = 0;
  deliveredInIncident = 0;
  queueMsSum = 0;
  queueMsMax = 0;
  expired = 0;
  bounced = 0;
  /** Decisions the simulator does not expect (pass, unroutable, a provider other than the model's). */
  anomalies = 0;
  readonly deliveries: Uint8Array;
  readonly byProvider = new Map<string, ProviderCount>();

  constructor(private readonly sc: Scenario) {
    this.deliveries = new Uint8Array(sc.messages.length);
  }

  private provider(name: string): ProviderCount {
    let c = this.byProvider.get(name);
    if (!c) {
      c = { attempts: 0, throttles: 0, delivered: 0 };
      this.byProvider.set(name, c);
    }
    return c;
  }

  attempt(msg: SimMessage): void {
    this.attempts += 1;
    this.provider(msg.provider).attempts += 1;
  }

  throttle(msg: SimMessage): void {
    this.throttles += 1;
    this.provider(msg.provider).throttles += 1;
  }

  deliver(msg: SimMessage, now: number): void {
    this.deliveries[msg.id] = Math.min(255, (this.deliveries[msg.id] ?? 0) + 1);
    this.delivered += 1;
    this.provider(msg.provider).delivered += 1;
    if (now >= this.sc.incidentStart && now < this.sc.incidentEnd) this.deliveredInIncident += 1;
    const waited = now - msg.queueTime;
    this.queueMsSum += waited;
    this.queueMsMax = Math.max(this.queueMsMax, waited);
  }
}

/** One row of the comparison: every figure printed for a strategy. */
export interface Figures {
  readonly strategy: string;
  readonly offered: number;
  readonly delivered: number;
  /** Messages accepted more than once (must be 0). */
  readonly duplicates: number;
  /** Messages neither delivered nor still queued at the end (bounced, expired, dropped). */
  readonly lost: number;
  /** Of those: bounced after 13 temporary failures, expired by max_delay, or given an unexpected decision. */
  readonly bounced: number;
  readonly expired: number;
  readonly anomalies: number;
  readonly queuedAtEnd: number;
  readonly attempts: number;
  /** Engine decisions per delivered message: how often waiting mail polls the engine. */
  readonly decisionsPerDelivered: number;
  readonly deliveredPerHour: number;
  /** Delivered as a percentage of the hidden capacity (what an oracle could deliver). */
  readonly pctOfCapacity: number;
  readonly throttlesPer100: number;
  readonly meanQueueMin: number;
  readonly maxQueueMin: number;
  readonly perHourInIncident: number;
  readonly perHourOutside: number;
  readonly byProvider: ReadonlyArray<{
    provider: string;
    delivered: number;
    pctOfCapacity: number;
    throttlesPer100: number;
  }>;
}

const pct = (part: number, whole: number): number => (whole > 0 ? (100 * part) / whole : 0);

/** Derives the figures of a finished run; `queued` is how many messages were still waiting at the end. */
export function figures(strategy: string, sc: Scenario, t: Tally, queued: number): Figures {
  let duplicates = 0;
  for (const n of t.deliveries) if (n > 1) duplicates += 1;
  const capacity = [...sc.capacity.values()].reduce((a, b) => a + b, 0);
  const incidentH = (sc.incidentEnd - sc.incidentStart) / 3_600_000;
  const byProvider = [...sc.capacity.entries()].map(([provider, cap]) => {
    const c = t.byProvider.get(provider) ?? { attempts: 0, throttles: 0, delivered: 0 };
    return {
      provider,
      delivered: c.delivered,
      pctOfCapacity: pct(c.delivered, cap),
      throttlesPer100: pct(c.throttles, c.attempts),
    };
  });
  return {
    strategy,
    offered: sc.messages.length,
    delivered: t.delivered,
    duplicates,
    lost: sc.messages.length - (t.delivered - duplicates) - queued,
    bounced: t.bounced,
    expired: t.expired,
    anomalies: t.anomalies,
    queuedAtEnd: queued,
    attempts: t.attempts,
    decisionsPerDelivered: t.delivered > 0 ? t.decisions / t.delivered : 0,
    deliveredPerHour: t.delivered / sc.hours,
    pctOfCapacity: pct(t.delivered, capacity),
    throttlesPer100: pct(t.throttles, t.attempts),
    meanQueueMin: t.delivered > 0 ? t.queueMsSum / t.delivered / 60_000 : 0,
    maxQueueMin: t.queueMsMax / 60_000,
    perHourInIncident: incidentH > 0 ? t.deliveredInIncident / incidentH : 0,
    perHourOutside: (t.delivered - t.deliveredInIncident) / (sc.hours - incidentH),
    byProvider,
  };
}
