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
import { drawScenario, limiterFor, oracle, type FamilyScenario } from './family';
import { familyFigures, FamilyTally, type FamilyFigures } from './family-metrics';
import { Mta, type MtaSetup, type Pacer, type SimClock } from './mta';
import { enginePacer, roundRobinPacer, type PacelineConfig } from './pacer';
import { subSeed } from './prng';
import type { SimMessage } from './scenario';
import { sessionWire, type SessionLimiter } from './session-wire';
import { parseIni } from './strategies';

/** The strategies the benchmark compares, in its order. */
export type FamilyStrategy = 'paceline' | 'no pacing' | 'static';
export const FAMILY_STRATEGIES: readonly FamilyStrategy[] = ['paceline', 'no pacing', 'static'];

/** A Thursday 01:00 UTC, as the 12-hour mode: no run crosses a UTC day. */
export const FAMILY_T0 = Date.UTC(2026, 10, 26, 1, 0, 0);
/** Haraka's outbound concurrency_max. */
export const CONCURRENCY_MAX = 100;

export interface FamilyOptions {
  /** Simulated minutes (default 60). */
  readonly minutes?: number;
  /** Messages queued at t = 0 (default: the family's 1,000). */
  readonly messages?: number;
  /** Run only these strategies (default: all three). */
  readonly only?: readonly FamilyStrategy[];
}

const ROOT = path.resolve(__dirname, '..');

/** Sources, one pool and static MX for every domain: nothing tuned, as an operator would start. */
function topology(s: FamilyScenario): Record<string, unknown> {
  const sources: Record<string, unknown> = {};
  for (const src of s.sources) sources[src.name] = { address: src.address, helo: `${src.name}.paceline.test` };
  const staticMx: Record<string, unknown> = {};
  for (const p of s.providers) for (const d of p.domains) staticMx[d.domain] = [{ host: d.mxHost, address: '127.0.0.1' }];
  return { sources, pools: { default: { sources: s.sources.map((x) => x.name) } }, static_mx: staticMx };
}

const shippedYaml = (file: string): unknown => parse(fs.readFileSync(path.join(ROOT, 'config', file), 'utf8')) ?? {};

/**
 * The four shipped config files as Haraka would merge them, with the
 * scenario's topology in paceline.yaml; `[adapt] enabled=false` for the static strategy.
 */
export function familyConfig(s: FamilyScenario, adapt: boolean): PacelineConfig {
  const ini = parseIni(fs.readFileSync(path.join(ROOT, 'config', 'paceline.ini'), 'utf8'));
  if (!adapt) ini.adapt = { ...(ini.adapt ?? {}), enabled: 'false' };
  const yaml = { ...(shippedYaml('paceline.yaml') as Record<string, unknown>), ...topology(s) };
  return { ini, yaml, warmup: shippedYaml('paceline-warmup.yaml'), replies: shippedYaml('paceline-replies.yaml') };
}

/** The scenario's messages as the MTA queues them: ids 0..n-1, all at t0. */
function queue(s: FamilyScenario, t0: number): SimMessage[] {
  return s.messages.map((m, i) => ({ id: i, domain: m.domain, provider: m.provider, queueTime: t0 }));
}

function pacerFor(strategy: FamilyStrategy, s: FamilyScenario, clock: SimClock): Pacer {
  if (strategy === 'no pacing') {
    const provider = new Map(s.messages.map((m) => [m.domain, m.provider as string]));
    return roundRobinPacer(s.sources, (d) => provider.get(d) ?? 'plain');
  }
  return enginePacer(familyConfig(s, strategy === 'paceline'), clock);
}

/** Runs one strategy on scenario `s` for `minutes`; every run has fresh limiters and a fresh engine. */
export async function runStrategy(s: FamilyScenario, strategy: FamilyStrategy, minutes: number): Promise<FamilyFigures> {
  const t0 = FAMILY_T0;
  const messages = queue(s, t0);
  const setup: MtaSetup = { t0, endAt: t0 + minutes * 60_000, maxInFlight: CONCURRENCY_MAX, messages };
  const limiters = new Map<string, SessionLimiter | null>(s.providers.map((p) => [p.name, limiterFor(s, p.name, t0)]));
  const address = new Map(s.sources.map((x) => [x.name, x.address]));
  const clock: SimClock = { now: t0 };
  const tally = new FamilyTally(messages);
  const wire = sessionWire(limiters, (name) => address.get(name) ?? '', subSeed(s.seed, 7), tally);
  const queued = await new Mta(setup, clock, pacerFor(strategy, s, clock), wire, tally).run();
  return familyFigures(tally, { strategy, seed: s.seed, minutes, t0, queued, oracle: (atMs) => oracle(s, atMs) });
}

/** Runs the strategies on `drawScenario(seed)`; the figures in {@link FAMILY_STRATEGIES} order. */
export async function simulateFamily(seed: number, opts: FamilyOptions = {}): Promise<{ scenario: FamilyScenario; figures: FamilyFigures[] }> {
  const scenario = drawScenario(seed, opts.messages === undefined ? {} : { messages: opts.messages });
  const figures: FamilyFigures[] = [];
  for (const strategy of FAMILY_STRATEGIES) {
    if (!opts.only || opts.only.includes(strategy)) figures.push(await runStrategy(scenario, strategy, opts.minutes ?? 60));
  }
  return { scenario, figures };
}
