/**
 * The family mode: one scenario of the end-to-end benchmark's family
 * (sim/family.ts drawScenario) run in the simulator, three strategies, each
 * on its own engine, store and limiters, with the same figures the benchmark
 * prints. {@link simulateFamily} is what bench/e2e.ts calls to print the
 * simulator's verdict beside the real Haraka's.
 */

import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { drawScenario, limiterFor, oracle, type FamilyProviderName, type FamilyScenario } from './family';
import type { HiddenLimiter, IpCounters } from './limiter';
import { familyFigures, FamilyTally, type FamilyFigures } from './family-metrics';
import { Mta, type MtaSetup, type Pacer, type SimClock } from './mta';
import { enginePacer, roundRobinPacer, type PacelineConfig } from './pacer';
import { subSeed } from './prng';
import type { SimMessage } from './scenario';
import { sessionWire, type SessionLimiter } from './session-wire';
import { parseIni } from './strategies';
import { tracing } from './trace';
import { MemoryStore } from '../lib/store/memory';
import { buildConfig } from '../lib/config/load';

/** The strategies the benchmark compares, in its order. */
export type FamilyStrategy = 'paceline' | 'no-pacing' | 'static';
export const FAMILY_STRATEGIES: readonly FamilyStrategy[] = ['paceline', 'no-pacing', 'static'];

/** A Thursday 01:00 UTC, as the 12-hour mode: no run crosses a UTC day. */
export const FAMILY_T0 = Date.UTC(2026, 10, 26, 1, 0, 0);
/**
 * Haraka's outbound concurrency_max as the benchmark runs it: unset in its
 * outbound.ini (bench/e2e-strategy.ts), so Haraka's own fallback, 10 000
 * (outbound/config.js), not the 100 its sample outbound.ini mentions.
 */
export const CONCURRENCY_MAX = 10_000;

/**
 * Messages the benchmark's client submits to Haraka per second (ten SMTP
 * sessions at once, bench/e2e-strategy.ts): its progress lines print how long
 * the whole submission took, 6.0–7.2 s for 1,000 messages with three Haraka
 * processes at once on this machine. Messages are queued in scenario order
 * (Microsoft's first, then Google's, then plain), so a strategy that sends
 * each at once meets the receivers as a stream, not as one instant burst.
 */
export const SUBMIT_PER_S = 165;

export interface FamilyOptions {
  /** Simulated minutes (default 60). */
  readonly minutes?: number;
  /** Messages queued at t = 0 (default: the family's 1,000). */
  readonly messages?: number;
  /** Run only these strategies (default: all three). */
  readonly only?: readonly FamilyStrategy[];
  /** [adapt] overrides for paceline, to search with (`--adapt`). */
  readonly adapt?: Readonly<Record<string, string>>;
  /** `--trace M`: paceline's lanes every M simulated minutes (sim/trace.ts), printed with `print`. */
  readonly trace?: TraceOptions;
}

/** Where and how often a trace is printed. */
export interface TraceOptions {
  readonly periodMin: number;
  readonly print: (line: string) => void;
}

const ROOT = path.resolve(__dirname, '..');

/** Sources, one pool and static MX for every domain: nothing tuned, as an operator would start. */
function topology(s: FamilyScenario): Record<string, unknown> {
  const sources: Record<string, unknown> = {};
  for (const src of s.sources) sources[src.name] = { address: src.address, helo: `${src.name}.paceline.test` };
  const staticMx: Record<string, unknown> = {};
  for (const p of s.providers)
    for (const d of p.domains) staticMx[d.domain] = [{ host: d.mxHost, address: '127.0.0.1' }];
  return { sources, pools: { default: { sources: s.sources.map((x) => x.name) } }, static_mx: staticMx };
}

const shippedYaml = (file: string): unknown => parse(fs.readFileSync(path.join(ROOT, 'config', file), 'utf8')) ?? {};

/**
 * The four shipped config files as Haraka would merge them, with the
 * scenario's topology in paceline.yaml; `[adapt] enabled=false` for the static strategy.
 */
export function familyConfig(
  s: FamilyScenario,
  adapt: boolean,
  overrides: Readonly<Record<string, string>> = {},
): PacelineConfig {
  const ini = parseIni(fs.readFileSync(path.join(ROOT, 'config', 'paceline.ini'), 'utf8'));
  ini.adapt = { ...(ini.adapt ?? {}), ...(adapt ? overrides : { enabled: 'false' }) };
  const yaml = { ...(shippedYaml('paceline.yaml') as Record<string, unknown>), ...topology(s) };
  return { ini, yaml, warmup: shippedYaml('paceline-warmup.yaml'), replies: shippedYaml('paceline-replies.yaml') };
}

/** The scenario's messages as the simulated Haraka queues them: ids 0..n-1 in scenario order, SUBMIT_PER_S a second from t0. */
export function queue(s: FamilyScenario, t0: number): SimMessage[] {
  return s.messages.map((m, i) => ({
    id: i,
    domain: m.domain,
    provider: m.provider,
    queueTime: t0 + Math.round((i * 1000) / SUBMIT_PER_S),
  }));
}

function pacerFor(
  strategy: FamilyStrategy,
  s: FamilyScenario,
  clock: SimClock,
  adapt: Readonly<Record<string, string>>,
  store: MemoryStore,
): Pacer {
  if (strategy === 'no-pacing') {
    const provider = new Map(s.messages.map((m) => [m.domain, m.provider as string]));
    return roundRobinPacer(s.sources, (d) => provider.get(d) ?? 'plain');
  }
  return enginePacer(familyConfig(s, strategy === 'paceline', adapt), clock, undefined, store);
}

/** A delivered message as the e2e benchmark's receivers record it (bench/e2e-strategy.ts Arrival). */
export interface SimArrival {
  /** Epoch ms of acceptance. */
  readonly at: number;
  readonly address: string;
  readonly provider: FamilyProviderName;
}

/**
 * What a strategy's run left behind, in the shape of the benchmark's
 * StrategyOutcome (bench/e2e-strategy.ts), so that its own figures() can
 * derive the simulator's figures exactly as it derives the real Haraka's.
 */
export interface SimOutcome {
  readonly name: FamilyStrategy;
  /** First acceptance per Message-ID. */
  readonly arrivals: ReadonlyMap<string, SimArrival>;
  readonly duplicates: number;
  /** Bounced or expired (each would be a DSN to the envelope sender). */
  readonly bounced: number;
  /** Message-IDs still in the queue at the end. */
  readonly queued: ReadonlySet<string>;
  /** Limiter counters per provider (microsoft, google) and source address. */
  readonly counters: ReadonlyMap<FamilyProviderName, ReadonlyMap<string, IpCounters>>;
}

interface Played {
  readonly tally: FamilyTally;
  readonly queued: number;
  readonly limiters: ReadonlyMap<FamilyProviderName, HiddenLimiter | null>;
}

/** A message's provider as the engine names it (the trace's lane names): its domain's MX host through the config's matcher. */
function engineProviderOf(s: FamilyScenario, adapt: Readonly<Record<string, string>>): (msg: SimMessage) => string {
  const cfg = familyConfig(s, true, adapt);
  const { matcher } = buildConfig(cfg.ini, cfg.yaml, cfg.warmup ?? {}, cfg.replies ?? {});
  const byDomain = new Map(s.providers.flatMap((p) => p.domains.map((d) => [d.domain, matcher.match([d.mxHost])])));
  return (msg) => byDomain.get(msg.domain) ?? msg.provider;
}

async function play(
  s: FamilyScenario,
  strategy: FamilyStrategy,
  minutes: number,
  adapt: Readonly<Record<string, string>> = {},
  trace?: TraceOptions,
): Promise<Played> {
  const t0 = FAMILY_T0;
  const messages = queue(s, t0);
  const setup: MtaSetup = { t0, endAt: t0 + minutes * 60_000, maxInFlight: CONCURRENCY_MAX, messages };
  const limiters = new Map(s.providers.map((p) => [p.name, limiterFor(s, p.name, t0)] as const));
  const address = new Map(s.sources.map((x) => [x.name, x.address]));
  const clock: SimClock = { now: t0 };
  const tally = new FamilyTally(messages);
  const wire = sessionWire(
    limiters as ReadonlyMap<string, SessionLimiter | null>,
    (name) => address.get(name) ?? '',
    subSeed(s.seed, 7),
    tally,
  );
  const store = new MemoryStore(() => clock.now);
  const recorder =
    trace && strategy === 'paceline'
      ? tracing(tally, store, t0, trace.periodMin, trace.print, {
          provider: engineProviderOf(s, adapt),
          now: () => clock.now,
        })
      : tally;
  const queued = await new Mta(setup, clock, pacerFor(strategy, s, clock, adapt, store), wire, recorder).run();
  return { tally, queued, limiters };
}

/** Runs one strategy on scenario `s` for `minutes`; every run has fresh limiters and a fresh engine. `adapt`: [adapt] overrides for paceline. */
export async function runStrategy(
  s: FamilyScenario,
  strategy: FamilyStrategy,
  minutes: number,
  adapt: Readonly<Record<string, string>> = {},
  trace?: TraceOptions,
): Promise<FamilyFigures> {
  const { tally, queued } = await play(s, strategy, minutes, adapt, trace);
  return familyFigures(tally, {
    strategy,
    seed: s.seed,
    minutes,
    t0: FAMILY_T0,
    queued,
    oracle: (atMs) => oracle(s, atMs),
  });
}

/** Runs one strategy and returns the raw outcome in the e2e benchmark's shape (times are epoch ms from {@link FAMILY_T0}). */
export async function runOutcome(s: FamilyScenario, strategy: FamilyStrategy, minutes: number): Promise<SimOutcome> {
  const { tally, limiters } = await play(s, strategy, minutes);
  const address = new Map(s.sources.map((x) => [x.name, x.address]));
  const arrivals = new Map<string, SimArrival>();
  const queued = new Set<string>();
  s.messages.forEach((m, i) => {
    const at = tally.deliveredAt[i] as number;
    if (!Number.isNaN(at))
      arrivals.set(m.messageId, { at, address: address.get(tally.sourceOf[i] ?? '') ?? '', provider: m.provider });
    else if (!tally.droppedIds.has(i)) queued.add(m.messageId);
  });
  const counters = new Map<FamilyProviderName, ReadonlyMap<string, IpCounters>>();
  for (const [name, l] of limiters) if (l) counters.set(name, l.counters());
  return {
    name: strategy,
    arrivals,
    duplicates: tally.duplicated,
    bounced: tally.bounced + tally.expired,
    queued,
    counters,
  };
}

/** Runs the strategies on `drawScenario(seed)`; the figures in {@link FAMILY_STRATEGIES} order. */
export async function simulateFamily(
  seed: number,
  opts: FamilyOptions = {},
): Promise<{ scenario: FamilyScenario; figures: FamilyFigures[] }> {
  const scenario = drawScenario(seed, opts.messages === undefined ? {} : { messages: opts.messages });
  const figures: FamilyFigures[] = [];
  for (const strategy of FAMILY_STRATEGIES) {
    if (!opts.only || opts.only.includes(strategy))
      figures.push(await runStrategy(scenario, strategy, opts.minutes ?? 60, opts.adapt, opts.trace));
  }
  return { scenario, figures };
}
