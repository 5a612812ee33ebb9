/**
 * What one strategy's run of a family scenario produced, and the figures the
 * end-to-end benchmark prints for it (same names, same JSON shape).
 */

import type { Recorder } from './mta';
import type { SimMessage } from './scenario';
import type { SessionCounter } from './session-wire';

interface ProviderCount {
  submitted: number;
  delivered: number;
  connects: number;
  mails: number;
  refusals: number;
}

/** Counters of one family run; `deliveredAt` keeps each message's first acceptance (epoch ms, NaN = none). */
export class FamilyTally implements Recorder, SessionCounter {
  decisions = 0;
  expired = 0;
  bounced = 0;
  anomalies = 0;
  attempts = 0;
  duplicated = 0;
  readonly deliveredAt: Float64Array;
  /** Ids of messages bounced or expired. */
  readonly droppedIds = new Set<number>();
  /** Source name of each delivered message, by id. */
  readonly sourceOf: string[] = [];
  readonly bySource = new Map<string, number>();
  readonly byProvider = new Map<string, ProviderCount>();

  constructor(messages: readonly SimMessage[]) {
    this.deliveredAt = new Float64Array(messages.length).fill(NaN);
    for (const m of messages) this.provider(m.provider).submitted += 1;
  }

  private provider(name: string): ProviderCount {
    let c = this.byProvider.get(name);
    if (!c) {
      c = { submitted: 0, delivered: 0, connects: 0, mails: 0, refusals: 0 };
      this.byProvider.set(name, c);
    }
    return c;
  }

  attempt(): void {
    this.attempts += 1;
  }

  deliver(msg: SimMessage, now: number, source: string): void {
    if (!Number.isNaN(this.deliveredAt[msg.id] as number)) {
      this.duplicated += 1;
      return;
    }
    this.deliveredAt[msg.id] = now;
    this.sourceOf[msg.id] = source;
    this.provider(msg.provider).delivered += 1;
    this.bySource.set(source, (this.bySource.get(source) ?? 0) + 1);
  }

  dropped(msg: SimMessage): void {
    this.droppedIds.add(msg.id);
  }

  /** A deferral; the refusal itself is counted where it happened (connect or MAIL). */
  throttle(): void {}

  connect(msg: SimMessage, refused: boolean): void {
    const c = this.provider(msg.provider);
    c.connects += 1;
    if (refused) c.refusals += 1;
  }

  mail(msg: SimMessage, refused: boolean): void {
    const c = this.provider(msg.provider);
    c.mails += 1;
    if (refused) c.refusals += 1;
  }
}

/** Deliveries by one point of the run, against what a knowing sender could have had accepted by then. */
export interface Mark {
  readonly minute: number;
  readonly delivered: number;
  readonly oracle: number;
  readonly pctOfOracle: number;
}

/** One provider's share of a run. */
export interface ProviderFigures {
  readonly submitted: number;
  readonly delivered: number;
  /** Oracle at the end of the run. */
  readonly oracle: number;
  readonly connects: number;
  readonly mails: number;
  readonly refusals: number;
  readonly refusalsPer100: number;
}

/** Every figure of one strategy on one scenario: the e2e benchmark's JSON row. */
export interface FamilyFigures {
  readonly strategy: string;
  readonly seed: number;
  readonly minutes: number;
  readonly submitted: number;
  readonly delivered: number;
  /** At 2, 10 and 60 min (those within the run) and at its end. */
  readonly marks: readonly Mark[];
  readonly connects: number;
  readonly mails: number;
  readonly refusals: number;
  /** refusals ÷ (connect attempts + MAIL attempts) × 100, at limited providers. */
  readonly refusalsPer100: number;
  /** Queue time (t = 0) to acceptance of delivered messages, seconds; null when none was. */
  readonly medianDeliveryS: number | null;
  readonly p95DeliveryS: number | null;
  readonly queued: number;
  readonly bounced: number;
  /** Expired by paceline's max_delay. */
  readonly expired: number;
  /** Decisions the simulator does not expect (pass, unroutable, relay): must be 0. */
  readonly anomalies: number;
  /** Neither delivered nor still queued: bounced, expired, dropped. */
  readonly lost: number;
  readonly duplicated: number;
  /** Delivered per source name. */
  readonly perIp: Readonly<Record<string, number>>;
  readonly perProvider: Readonly<Record<string, ProviderFigures>>;
}

/** Percent, 0 when the whole is 0. */
export const pct = (part: number, whole: number): number => (whole > 0 ? (100 * part) / whole : 0);

/** The `q` quantile (0..1) of sorted values, nearest rank; null when empty. */
export function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** What the figures need to know about the run besides the tally. */
export interface RunFacts {
  readonly strategy: string;
  readonly seed: number;
  readonly minutes: number;
  readonly t0: number;
  readonly queued: number;
  /** Oracle (total and per provider) `atMs` after t0. */
  readonly oracle: (atMs: number) => { readonly total: number; readonly byProvider: Readonly<Record<string, number>> };
}

/** The minutes at which deliveries are compared with the oracle. */
export const MARK_MINUTES = [2, 10, 60] as const;

function marks(t: FamilyTally, f: RunFacts): Mark[] {
  const minutes: number[] = MARK_MINUTES.filter((m) => m < f.minutes);
  minutes.push(f.minutes);
  return minutes.map((minute) => {
    const by = f.t0 + minute * 60_000;
    let delivered = 0;
    for (const at of t.deliveredAt) if (at <= by) delivered += 1;
    const oracle = f.oracle(minute * 60_000).total;
    return { minute, delivered, oracle, pctOfOracle: pct(delivered, oracle) };
  });
}

/** Derives the figures of a finished family run. */
export function familyFigures(t: FamilyTally, f: RunFacts): FamilyFigures {
  const times = [...t.deliveredAt]
    .filter((x) => !Number.isNaN(x))
    .map((x) => (x - f.t0) / 1000)
    .sort((a, b) => a - b);
  const end = f.oracle(f.minutes * 60_000).byProvider;
  const perProvider: Record<string, ProviderFigures> = {};
  let connects = 0;
  let mails = 0;
  let refusals = 0;
  for (const [name, c] of [...t.byProvider].sort(([a], [b]) => a.localeCompare(b))) {
    perProvider[name] = { ...c, oracle: end[name] ?? 0, refusalsPer100: pct(c.refusals, c.connects + c.mails) };
    connects += c.connects;
    mails += c.mails;
    refusals += c.refusals;
  }
  const submitted = t.deliveredAt.length;
  return {
    strategy: f.strategy,
    seed: f.seed,
    minutes: f.minutes,
    submitted,
    delivered: times.length,
    marks: marks(t, f),
    connects,
    mails,
    refusals,
    refusalsPer100: pct(refusals, connects + mails),
    medianDeliveryS: quantile(times, 0.5),
    p95DeliveryS: quantile(times, 0.95),
    queued: f.queued,
    bounced: t.bounced,
    expired: t.expired,
    anomalies: t.anomalies,
    lost: submitted - times.length - f.queued,
    duplicated: t.duplicated,
    perIp: Object.fromEntries([...t.bySource].sort(([a], [b]) => a.localeCompare(b))),
    perProvider,
  };
}
