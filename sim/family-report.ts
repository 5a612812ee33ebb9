/**
 * The family mode's table, and the command that prints it. Pure text from
 * figures, so the same seed prints the same bytes.
 *
 *   npm run simulate -- --family --seed N [--minutes M] [--messages K] [--only paceline,no-pacing,static] [--adapt k=v,...] [--trace M] [--json]
 *
 * --adapt: [adapt] overrides for paceline (not for static), e.g. throttle_pause=30s,start=0.2: a tool to search, never a shipped setting.
 * --trace M: paceline's lanes every M simulated minutes, to stderr (sim/trace.ts).
 */

import { describeScenario, type FamilyScenario } from './family';
import type { FamilyFigures } from './family-metrics';
import { CONCURRENCY_MAX, FAMILY_STRATEGIES, SUBMIT_PER_S, simulateFamily, type FamilyStrategy } from './family-run';
import { parseOverrides } from './strategies';

const f1 = (n: number | null): string => (n === null ? '–' : n.toFixed(1));

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
}

/** One row per strategy: deliveries at each mark (and % of the oracle), refusals, delivery times, integrity. */
export function familyTable(rows: readonly FamilyFigures[]): string[] {
  const marks = rows[0]?.marks ?? [];
  const w = [10, ...marks.map(() => 14), 9, 9, 9, 7, 5, 4, 20];
  const head = [
    'strategy',
    ...marks.map((m) => `@${m.minute}min (%or)`),
    'ref/100',
    'p50 s',
    'p95 s',
    'queued',
    'lost',
    'dup',
    'per IP',
  ];
  const out = [row(head, w)];
  for (const f of rows) {
    const ips = Object.entries(f.perIp)
      .map(([ip, n]) => `${ip}:${n}`)
      .join(' ');
    const at = f.marks.map((m) => `${m.delivered} (${m.pctOfOracle.toFixed(0)}%)`);
    out.push(
      row(
        [
          f.strategy,
          ...at,
          f1(f.refusalsPer100),
          f1(f.medianDeliveryS),
          f1(f.p95DeliveryS),
          String(f.queued),
          String(f.lost),
          String(f.duplicated),
          ips,
        ],
        w,
      ),
    );
  }
  out.push(
    '',
    `oracle: ${marks.map((m) => `${m.oracle} by ${m.minute} min`).join(', ')} (an upper bound: sessions and penalties ignored)`,
  );
  out.push('ref/100: refusals per 100 attempts (connects + MAILs) at microsoft and google', '');
  out.push(
    row(
      ['by provider', ...Object.keys(rows[0]?.perProvider ?? {}).map((p) => `${p} dlv/sub · ref/100`)],
      [10, 28, 28, 28],
    ),
  );
  for (const f of rows) {
    out.push(
      row(
        [
          f.strategy,
          ...Object.values(f.perProvider).map((p) => `${p.delivered}/${p.submitted} · ${p.refusalsPer100.toFixed(1)}`),
        ],
        [10, 28, 28, 28],
      ),
    );
  }
  return out;
}

/** What `--family --json` prints. */
export interface FamilyReport {
  readonly seed: number;
  readonly minutes: number;
  readonly scenario: readonly string[];
  readonly figures: readonly FamilyFigures[];
}

export interface FamilyArgs {
  readonly seed: number;
  readonly minutes: number;
  readonly messages?: number;
  readonly only?: readonly FamilyStrategy[];
  readonly adapt?: Readonly<Record<string, string>>;
  readonly traceMin?: number;
  readonly json: boolean;
}

const FLAGS: Readonly<Record<string, FamilyStrategy>> = {
  paceline: 'paceline',
  'no-pacing': 'no-pacing',
  static: 'static',
};

function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Parses the family mode's flags; throws with a usage hint on a bad value. */
export function parseFamilyArgs(args: readonly string[]): FamilyArgs {
  const seed = Number(flag(args, '--seed') ?? 1);
  const minutes = Number(flag(args, '--minutes') ?? 60);
  const messages = flag(args, '--messages');
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error('--seed: a whole number ≥ 0');
  if (!(Number.isInteger(minutes) && minutes >= 1 && minutes <= 1440))
    throw new Error('--minutes: a whole number of minutes from 1 to 1440');
  if (messages !== undefined && !(Number(messages) >= 1 && Number.isSafeInteger(Number(messages))))
    throw new Error('--messages: a whole number ≥ 1');
  const only = flag(args, '--only')
    ?.split(',')
    .map((n) => FLAGS[n.trim()]);
  if (only?.some((n) => n === undefined))
    throw new Error(`--only: a comma-separated list of ${Object.keys(FLAGS).join(', ')}`);
  const adapt = flag(args, '--adapt');
  const trace = flag(args, '--trace');
  if (trace !== undefined && !(Number(trace) >= 1 && Number.isSafeInteger(Number(trace))))
    throw new Error('--trace: a whole number of simulated minutes ≥ 1');
  return {
    seed,
    minutes,
    json: args.includes('--json'),
    ...(messages ? { messages: Number(messages) } : {}),
    ...(only ? { only: only as FamilyStrategy[] } : {}),
    ...(adapt ? { adapt: parseOverrides(adapt) } : {}),
    ...(trace ? { traceMin: Number(trace) } : {}),
  };
}

/** The text report: the scenario's hidden parameters, then the table. */
export function familyText(scenario: FamilyScenario, minutes: number, figures: readonly FamilyFigures[]): string {
  const head = `paceline simulator · family seed ${scenario.seed} · ${minutes} min simulated · Haraka concurrency_max ${CONCURRENCY_MAX} · submitted at ${SUBMIT_PER_S}/s · strategies ${FAMILY_STRATEGIES.join(', ')}`;
  return [head, ...describeScenario(scenario), '', ...familyTable(figures)].join('\n');
}

/** `npm run simulate -- --family ...`: runs and prints. */
export async function familyMain(args: readonly string[]): Promise<void> {
  const a = parseFamilyArgs(args);
  const { scenario, figures } = await simulateFamily(a.seed, {
    minutes: a.minutes,
    ...(a.messages ? { messages: a.messages } : {}),
    ...(a.only ? { only: a.only } : {}),
    ...(a.adapt ? { adapt: a.adapt } : {}),
    ...(a.traceMin
      ? { trace: { periodMin: a.traceMin, print: (line: string) => void process.stderr.write(`paceline ${line}\n`) } }
      : {}),
  });
  if (a.json) {
    const report: FamilyReport = { seed: a.seed, minutes: a.minutes, scenario: describeScenario(scenario), figures };
    console.log(JSON.stringify(report));
    return;
  }
  console.log(familyText(scenario, a.minutes, figures));
}
