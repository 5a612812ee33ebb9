/**
 * `npm run simulate`: runs every strategy through the same scenario (same
 * seed, same offered load) and prints the comparison.
 *
 *   --seed N          scenario seed (default 1)
 *   --hours H         simulated hours (default 12: the shipped scenario)
 *   --adapt k=v,...   [adapt] overrides for paceline, e.g. accepted_share=0.8,climb_step=0.1
 *   --classifier C    shipped (default) | pause-only | local
 *   --only S,...      run only these strategies: paceline, static-3x, no-pacing
 *   --trace M         print each lane's accepted/refused counts and pacing state every M simulated minutes (to stderr)
 *   --json            print the scenario's totals and the figures as JSON instead of the table
 *   --family          the e2e benchmark's scenario family instead (sim/family-report.ts lists its flags)
 */

import { CLASSIFIERS, makeClassifier, type ClassifierName } from './classifier';
import type { Figures } from './metrics';
import { simulate } from './simulate';
import { describe, table, verdict } from './report';
import { familyMain } from './family-report';
import { buildScenario, type Scenario } from './scenario';
import { noPacingStrategy, pacelineStrategy, parseOverrides, staticStrategy, type StrategyName } from './strategies';

/**
 * The shipped scenario runs 12 simulated hours: Microsoft's probation ramp
 * takes 8 h and Yahoo's own advice for [TSS04] is to stop for 2 h, so a
 * shorter run mostly measures the first refusal of each provider (3 h: a
 * Yahoo-like lane that follows the advice cannot exceed a third of its
 * capacity, whatever it does afterwards).
 */
export const DEFAULT_HOURS = 12;

export interface RunOptions {
  readonly seed: number;
  readonly hours: number;
  /** [adapt] overrides for the paceline strategy, as `key=value,...`. */
  readonly adapt?: string;
  readonly classifier?: ClassifierName;
  /** Run only these strategies (default: all three). */
  readonly only?: readonly StrategyName[];
  /** Print JSON (for tests and scripts) instead of the table. */
  readonly json?: boolean;
  /** Print a trace line per lane every this many simulated minutes (stderr). */
  readonly traceMin?: number;
}

/** What `--json` prints. */
export interface JsonReport {
  readonly seed: number;
  readonly hours: number;
  readonly offered: number;
  /** Hidden capacity per provider over the run, messages. */
  readonly capacity: Readonly<Record<string, number>>;
  readonly figures: readonly Figures[];
}

/** Runs the strategies in order on one scenario; every run has its own engine, store and provider state. */
export async function runAll(o: RunOptions): Promise<{ scenario: Scenario; figures: Figures[] }> {
  const scenario = buildScenario({ seed: o.seed, hours: o.hours });
  const classifier = makeClassifier(o.classifier ?? 'shipped');
  const strategies = [
    pacelineStrategy(scenario, parseOverrides(o.adapt ?? '')),
    staticStrategy(scenario),
    noPacingStrategy(scenario),
  ];
  const out: Figures[] = [];
  for (const s of strategies) {
    if (o.only && !o.only.includes(s.name)) continue;
    const print = (line: string): void => void process.stderr.write(`${s.name} ${line}\n`);
    out.push(await simulate(scenario, s, classifier, o.traceMin ? { periodMin: o.traceMin, print } : undefined));
  }
  return { scenario, figures: out };
}

const STRATEGY_FLAGS: Readonly<Record<string, StrategyName>> = {
  paceline: 'paceline',
  'static-3x': 'static-3x',
  'no-pacing': 'no pacing',
};

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Parses the command line; throws with a usage hint on a bad value. */
export function parseArgs(args: readonly string[]): RunOptions {
  const seed = Number(flag(args, '--seed') ?? 1);
  const hours = Number(flag(args, '--hours') ?? DEFAULT_HOURS);
  const classifier = (flag(args, '--classifier') ?? 'shipped') as ClassifierName;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error('--seed: a whole number ≥ 0');
  if (!(hours >= 0.5 && hours <= 23)) throw new Error('--hours: a number of hours from 0.5 to 23');
  if (!CLASSIFIERS.includes(classifier)) throw new Error(`--classifier: one of ${CLASSIFIERS.join(', ')}`);
  const names = flag(args, '--only')
    ?.split(',')
    .map((n) => n.trim());
  const only = names?.map((n) => STRATEGY_FLAGS[n]);
  if (only?.some((n) => n === undefined))
    throw new Error(`--only: a comma-separated list of ${Object.keys(STRATEGY_FLAGS).join(', ')}`);
  const adapt = flag(args, '--adapt') ?? '';
  const trace = flag(args, '--trace');
  if (trace !== undefined && !(Number(trace) >= 1 && Number.isSafeInteger(Number(trace))))
    throw new Error('--trace: a whole number of simulated minutes ≥ 1');
  return {
    seed,
    hours,
    adapt,
    classifier,
    ...(only ? { only: only as StrategyName[] } : {}),
    ...(args.includes('--json') ? { json: true } : {}),
    ...(trace !== undefined ? { traceMin: Number(trace) } : {}),
  };
}

/** The command: parses `args` (without node and script), runs and prints. */
export async function main(args: readonly string[]): Promise<void> {
  if (args.includes('--family')) return familyMain(args);
  const o = parseArgs(args);
  const { scenario, figures } = await runAll(o);
  if (o.json) {
    const report: JsonReport = {
      seed: o.seed,
      hours: o.hours,
      offered: scenario.messages.length,
      capacity: Object.fromEntries(scenario.capacity),
      figures,
    };
    console.log(JSON.stringify(report));
    return;
  }
  const lines = [...describe(scenario, o.classifier ?? 'shipped', o.adapt ?? ''), '', ...table(figures), ''];
  const paceline = figures.find((f) => f.strategy === 'paceline');
  if (paceline) lines.push(...verdict(paceline).lines);
  console.log(lines.join('\n'));
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
}
