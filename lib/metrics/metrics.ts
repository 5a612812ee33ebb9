/**
 * paceline's Prometheus metrics (prom-client) for one Haraka process: what it
 * decided and how deliveries ended (counters it keeps), and the lanes as the
 * store has them (gauges read at each scrape). Label values are bounded:
 * sources and providers named in the config, anything else `other`.
 *
 * In cluster mode every worker keeps its own counters and the master sums them
 * over IPC (lib/metrics/cluster.ts); the gauges read from the shared store are
 * the same in every worker, so the master takes the first worker's.
 */

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from '../config/types';
import { pauseOn, type Control } from '../core/control';
import type { LaneState } from '../core/lane-state';
import type { Decision } from '../engine/decision';
import type { OutcomeReport } from '../engine/outcomes';
import { warmRecords } from '../store/open';
import { statusRows } from '../engine/status-rows';
import type { LaneRef, PacingStore } from '../store/types';

/** The label value of a source or provider the config does not name (bounded cardinality). */
export const OTHER = 'other';

/** Decision latency buckets, seconds: a memory-store decision takes well under a millisecond, a Redis one a few. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** The lane states paceline_lanes counts, each lane in the first that applies. */
export const LANE_STATES = ['operator_paused', 'blocked', 'paused', 'capped', 'slowed', 'ok'] as const;

/** What the metrics read at a scrape: the store, and whether it is answering from its fallback. */
export interface MetricsSources {
  readonly config: () => Config;
  readonly store: PacingStore;
  /** Failed calls to the shared store so far, and whether the fallback answers now (Redis only). */
  readonly storeHealth?: () => { errors: number; degraded: boolean };
}

function laneStateOf(
  s: LaneState,
  controls: readonly Control[],
  lane: LaneRef,
  now: number,
): (typeof LANE_STATES)[number] {
  if (pauseOn(controls, lane.source, lane.provider, now)) return 'operator_paused';
  if (s.blockedAt) return 'blocked';
  if (s.pauseUntil > now) return 'paused';
  if (s.connCap > 0 && s.connCapUntil > now) return 'capped';
  if (s.factor < 1) return 'slowed';
  return 'ok';
}

interface LaneGauges {
  readonly lanes: Gauge<'state'>;
  readonly pace: Gauge<'source' | 'provider'>;
  readonly cap: Gauge<'source' | 'provider'>;
  readonly used: Gauge<'source' | 'provider'>;
}

export class PacelineMetrics {
  readonly registry = new Registry();

  private readonly decisions: Counter<'action' | 'reason'>;
  private readonly latency: Histogram<'action'>;
  private readonly deliveries: Counter<'source' | 'provider'>;
  private readonly replies: Counter<'source' | 'provider' | 'category'>;
  private readonly storeErrors: Counter;
  private errorsSeen = 0;

  constructor(private readonly from: MetricsSources) {
    const registers = [this.registry];
    this.decisions = new Counter({
      name: 'paceline_decisions_total',
      help: 'Pacing decisions, by action (send, delay, hold, expire, pass, unroutable, error) and reason.',
      labelNames: ['action', 'reason'],
      registers,
    });
    this.latency = new Histogram({
      name: 'paceline_decision_seconds',
      help: 'Time to take one pacing decision (store round trips included), by action.',
      labelNames: ['action'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.deliveries = new Counter({
      name: 'paceline_deliveries_total',
      help: 'Messages delivered, by lane.',
      labelNames: ['source', 'provider'],
      registers,
    });
    this.replies = new Counter({
      name: 'paceline_replies_total',
      help: 'Failed delivery attempts, by lane and reply category (unclassified: no reply text, or [adapt] enabled=false).',
      labelNames: ['source', 'provider', 'category'],
      registers,
    });
    this.storeErrors = new Counter({
      name: 'paceline_store_errors_total',
      help: 'Calls to the shared store (Redis) that failed and were answered by on_store_error.',
      registers,
      collect: () => this.collectStoreErrors(),
    });
    new Gauge({
      name: 'paceline_store_fallback',
      help: 'Haraka processes answering from on_store_error because the shared store failed (0 = shared pacing).',
      registers,
      collect() {
        this.set(from.storeHealth?.().degraded ? 1 : 0);
      },
    });
    this.laneGauges(registers);
  }

  /** The label value of a source: its name when the config has it, else `other`. */
  source(name: string): string {
    return this.from.config().sources.has(name) ? name : OTHER;
  }

  /** The label value of a provider: its name when the config has it, else `other` (`mx:` sets, unknown names). */
  provider(name: string): string {
    return this.from.config().providers.has(name) ? name : OTHER;
  }

  /** Counts one decision (`error`: the engine could not decide) and its latency. */
  decided(decision: Decision | 'error', seconds: number): void {
    const action = decision === 'error' ? 'error' : decision.action;
    this.decisions.inc({ action, reason: decision === 'error' ? 'error' : decision.reason });
    this.latency.observe({ action }, seconds);
  }

  /** Counts how an attempt on a lane ended. */
  ended(report: OutcomeReport, delivered: boolean): void {
    const labels = { source: this.source(report.lane.source), provider: this.provider(report.lane.provider) };
    if (delivered) this.deliveries.inc(labels);
    else this.replies.inc({ ...labels, category: report.category ?? 'unclassified' });
  }

  private collectStoreErrors(): void {
    const errors = this.from.storeHealth?.().errors ?? 0;
    if (errors > this.errorsSeen) this.storeErrors.inc(errors - this.errorsSeen);
    this.errorsSeen = errors;
  }

  /** Gauges read from the store at each scrape; the same in every worker, so the cluster takes the first. */
  private laneGauges(registers: Registry[]): void {
    // one read of the store per scrape, shared by the four gauges
    let read: Promise<void> | undefined;
    const collect = () => {
      read ??= this.readLanes(gauges).finally(() => (read = undefined));
      return read;
    };
    const lane = { labelNames: ['source', 'provider'] as const, registers, aggregator: 'first' as const, collect };
    const gauges: LaneGauges = {
      lanes: new Gauge({
        name: 'paceline_lanes',
        help: 'Lanes with state, by state.',
        labelNames: ['state'],
        registers,
        aggregator: 'first',
        collect,
      }),
      pace: new Gauge({
        name: 'paceline_lane_pace_factor',
        help: 'Share of the configured pace a lane runs at (1 = full); the lowest of the lanes a label value covers.',
        ...lane,
      }),
      cap: new Gauge({
        name: 'paceline_warmup_cap',
        help: "Today's warm-up cap of warming lanes (messages).",
        ...lane,
      }),
      used: new Gauge({
        name: 'paceline_warmup_sent',
        help: 'Messages sent today on warming lanes that have a cap.',
        ...lane,
      }),
    };
  }

  /** Sets the lane gauges from the store; when it cannot be read they keep their last values (see paceline_store_fallback). */
  private async readLanes(g: LaneGauges): Promise<void> {
    const config = this.from.config();
    let read;
    try {
      const [lanes, controls] = await Promise.all([this.from.store.lanes(), this.from.store.controls()]);
      // warm-up records only for warming sources: one store call per lane otherwise
      const warming = lanes.value.map((l) => l.lane).filter((l) => config.sources.get(l.source)?.warmup !== undefined);
      read = { ...lanes, controls: controls.value, warm: await warmRecords(this.from.store, warming) };
    } catch {
      return;
    }
    const { now, value, controls, warm } = read;
    const { lanes, pace, cap, used } = g;
    for (const x of [lanes, pace, cap, used]) x.reset();
    for (const s of LANE_STATES) lanes.set({ state: s }, 0);
    const factors = new Map<string, { labels: { source: string; provider: string }; factor: number }>();
    for (const { lane, state } of value) {
      lanes.inc({ state: laneStateOf(state, controls, lane, now) });
      const labels = { source: this.source(lane.source), provider: this.provider(lane.provider) };
      const key = `${labels.source}|${labels.provider}`;
      const seen = factors.get(key);
      factors.set(key, { labels, factor: Math.min(seen?.factor ?? 1, state.factor) });
    }
    for (const { labels, factor } of factors.values()) pace.set(labels, factor);
    for (const row of statusRows(config, value, now, warm)) {
      if (!row.warmup || row.warmup.cap === null) continue;
      const labels = { source: this.source(row.source), provider: this.provider(row.provider) };
      cap.inc(labels, row.warmup.cap);
      used.inc(labels, row.sentToday);
    }
  }
}
