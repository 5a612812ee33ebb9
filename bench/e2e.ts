/**
 * End-to-end pacing benchmark: for scenarios drawn from sim/family.ts, runs
 * paceline (shipped defaults), Haraka without pacing (source IPs in round
 * robin) and paceline with static limits ([adapt] enabled=false) in parallel,
 * each with its own Haraka and its own receivers imitating the providers'
 * hidden per-IP limits (sim/limiter.ts), and compares them with the oracle.
 *
 *   npm run bench -- --e2e [--seed N | --seeds 1,2] [--minutes M] [--messages N]
 *                        [--only paceline,no-pacing,static] [--sim] [--json]
 *
 * --sim also plays each scenario through the simulator and prints its figures
 * and how far they agree with the real run (bench/e2e-agree.ts).
 *   node -r ts-node/register/transpile-only bench/e2e.ts [same options]
 */
import os from 'node:os';
import { drawScenario, DEFAULT_MESSAGES } from '../sim/family';
import { agreement, simulatedFigures } from './e2e-agree';
import { buildReport, figures, formatReport, type ScenarioReport, type StrategyFigures } from './e2e-report';
import { STRATEGIES, StrategyRun, type StrategyName } from './e2e-strategy';

export interface E2eOptions {
  readonly seeds: readonly number[];
  readonly minutes: number;
  readonly messages: number;
  readonly only: readonly StrategyName[];
  readonly json: boolean;
  /** also run each scenario in the simulator and compare */
  readonly sim?: boolean;
  /** progress lines (stderr) every this many ms; 0 for none */
  readonly progressMs?: number;
}

/** Parses the benchmark's command-line options; throws naming the bad one. */
export function parseArgs(argv: readonly string[]): E2eOptions {
  const opts = {
    seeds: [1] as number[],
    minutes: 10,
    messages: DEFAULT_MESSAGES,
    only: [...STRATEGIES],
    json: false,
    sim: false,
  };
  const num = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`${flag}: expected a number ≥ ${min}, got ${String(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--e2e') continue;
    else if (a === '--json') opts.json = true;
    else if (a === '--sim') opts.sim = true;
    else if (a === '--seed') opts.seeds = [num(a, argv[++i], 0)];
    else if (a === '--seeds')
      opts.seeds = String(argv[++i])
        .split(',')
        .map((x) => num(a, x, 0));
    else if (a === '--minutes') opts.minutes = num(a, argv[++i], 0.1);
    else if (a === '--messages') opts.messages = Math.round(num(a, argv[++i], 1));
    else if (a === '--only') {
      const names = String(argv[++i]).split(',');
      const bad = names.filter((n) => !(STRATEGIES as readonly string[]).includes(n));
      if (bad.length) throw new Error(`--only: unknown strategy ${bad.join(', ')} (expected ${STRATEGIES.join(', ')})`);
      opts.only = names as StrategyName[];
    } else
      throw new Error(`unknown option ${a} (expected --seed, --seeds, --minutes, --messages, --only, --sim, --json)`);
  }
  return opts;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Runs one scenario: starts every strategy, submits all messages to all of them
 * at the same t0, waits `minutes`, stops everything and returns the figures.
 */
export async function runScenario(seed: number, opts: Omit<E2eOptions, 'seeds' | 'json'>): Promise<ScenarioReport> {
  const s = drawScenario(seed, { messages: opts.messages });
  const start = os.loadavg();
  const started = await Promise.allSettled(opts.only.map((name) => StrategyRun.start(name, s)));
  const runs = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await Promise.all(runs.map((r) => r.stop()));
    throw failed.reason;
  }
  const t0 = Date.now();
  for (const r of runs) r.submit(t0);
  const endAt = t0 + opts.minutes * 60_000;
  const every = opts.progressMs ?? 60_000;
  while (Date.now() < endAt) {
    await sleep(Math.min(every > 0 ? every : endAt - Date.now(), endAt - Date.now()));
    if (every > 0) {
      const done = runs
        .map((r) => `${r.name} ${r.delivered()}${r.submittedMs === undefined ? ' (submitting)' : ''}`)
        .join(', ');
      const submitted = runs
        .filter((r) => r.submittedMs !== undefined)
        .map((r) => `${r.name} ${((r.submittedMs as number) / 1000).toFixed(1)} s`)
        .join(', ');
      process.stderr.write(
        `seed ${seed} +${((Date.now() - t0) / 60_000).toFixed(1)} min: delivered ${done}; all submitted in ${submitted || '–'}; load ${os.loadavg()[0]?.toFixed(2)}\n`,
      );
    }
  }
  const outcomes = await Promise.all(runs.map((r) => r.stop()));
  return buildReport(
    s,
    opts.minutes,
    { start, end: os.loadavg() },
    outcomes.map((o) => figures(s, o, t0, opts.minutes)),
  );
}

/** Runs every seed in turn; prints tables (or one JSON document with --json). */
export async function main(argv: readonly string[]): Promise<ScenarioReport[]> {
  const opts = parseArgs(argv);
  // a run always ends by itself: per seed its minutes plus startup, submission and stopping
  const boundMs = opts.seeds.length * (opts.minutes * 60_000 + 180_000);
  const watchdog = setTimeout(() => {
    process.stderr.write(`bench e2e: still running after ${Math.round(boundMs / 60_000)} min, giving up\n`);
    process.exit(2);
  }, boundMs);
  watchdog.unref();
  const reports: Array<ScenarioReport & { simulated?: readonly StrategyFigures[] }> = [];
  for (const seed of opts.seeds) {
    const report = await runScenario(seed, opts);
    const simulated = opts.sim
      ? await simulatedFigures(drawScenario(seed, { messages: opts.messages }), opts.only, opts.minutes)
      : undefined;
    reports.push(simulated ? { ...report, simulated } : report);
    if (opts.json) continue;
    console.log(`${formatReport(report).join('\n')}\n`);
    if (simulated) {
      console.log(
        `${formatReport({ ...report, strategies: simulated, loadavg: report.loadavg })
          .slice(report.description.length + 1)
          .join('\n')
          .replace(/^/, 'simulator, same scenario:\n')}\n`,
      );
      console.log(`${agreement(report, simulated).join('\n')}\n`);
    }
  }
  if (opts.json) console.log(JSON.stringify(reports, null, 2));
  clearTimeout(watchdog);
  return reports;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (err: Error) => {
      console.error(err);
      process.exit(1);
    },
  );
}
