/**
 * Figures of the end-to-end pacing benchmark, derived from each strategy's
 * accounting, and their printing as tables.
 */
import {
  describeScenario,
  oracle,
  type FamilyProviderName,
  type FamilyScenario,
  type OracleFigure,
} from '../sim/family';
import type { StrategyName, StrategyOutcome } from './e2e-strategy';

const PROVIDERS: readonly FamilyProviderName[] = ['microsoft', 'google', 'plain'];

export const REFUSAL_DEFINITION =
  'refusals per 100 attempts = 100 × (connects refused + MAILs refused) ÷ (connects + MAILs), ' +
  'counted by the Microsoft and Google receivers (plain receivers never refuse)';
export const TIME_DEFINITION = 'times are from t0 = the start of submission (all messages offered at t0)';

export interface CheckpointFigure {
  readonly minutes: number;
  readonly delivered: number;
  /** delivered ÷ oracle total × 100 */
  readonly pctOracle: number;
  readonly byProvider: Readonly<Record<FamilyProviderName, number>>;
}

export interface StrategyFigures {
  readonly name: StrategyName;
  readonly checkpoints: readonly CheckpointFigure[];
  readonly attempts: number;
  readonly refusals: number;
  readonly refusalsPer100: number;
  readonly refusalsByProvider: Readonly<Record<string, { attempts: number; refusals: number }>>;
  /** ms from t0 to first arrival; null when nothing arrived */
  readonly medianMs: number | null;
  readonly p95Ms: number | null;
  readonly submitted: number;
  readonly delivered: number;
  /** in the queue at the end and never delivered */
  readonly queued: number;
  /** in the queue at the end although delivered (a retry would duplicate it) */
  readonly queuedDelivered: number;
  readonly bounced: number;
  /** submitted − delivered − queued − bounced */
  readonly lost: number;
  /** extra arrivals of an already delivered Message-ID */
  readonly duplicated: number;
  /** delivered count per source name */
  readonly perSource: Readonly<Record<string, number>>;
  readonly penalties: number;
  readonly submitError?: string;
}

export interface ScenarioReport {
  readonly seed: number;
  readonly minutes: number;
  readonly description: readonly string[];
  readonly loadavg: { readonly start: readonly number[]; readonly end: readonly number[] };
  readonly oracle: ReadonlyArray<{ minutes: number } & OracleFigure>;
  readonly strategies: readonly StrategyFigures[];
  readonly definitions: readonly string[];
}

function quantile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
}

/** Checkpoints: 2, 10 and 60 min when the run reaches them, and the end of the run. */
export function checkpoints(minutes: number): number[] {
  const cps = [2, 10, 60].filter((m) => m <= minutes);
  if (!cps.includes(minutes)) cps.push(minutes);
  return cps;
}

/** Figures of one strategy from its accounting. */
export function figures(s: FamilyScenario, out: StrategyOutcome, t0: number, minutes: number): StrategyFigures {
  const arrivals = [...out.arrivals.values()];
  const cps = checkpoints(minutes).map((m) => {
    const by = arrivals.filter((a) => a.at - t0 <= m * 60_000);
    const byProvider = { microsoft: 0, google: 0, plain: 0 };
    for (const a of by) byProvider[a.provider]++;
    const o = oracle(s, m * 60_000).total;
    return { minutes: m, delivered: by.length, pctOracle: o === 0 ? 0 : (100 * by.length) / o, byProvider };
  });
  let attempts = 0;
  let refusals = 0;
  let penalties = 0;
  const refusalsByProvider: Record<string, { attempts: number; refusals: number }> = {};
  for (const [provider, perIp] of out.counters) {
    const r = { attempts: 0, refusals: 0 };
    for (const c of perIp.values()) {
      r.attempts += c.connects + c.mails;
      r.refusals += c.connectRefusals + c.mailRefusals;
      penalties += c.penalties;
    }
    refusalsByProvider[provider] = r;
    attempts += r.attempts;
    refusals += r.refusals;
  }
  const times = arrivals.map((a) => a.at - t0).sort((a, b) => a - b);
  const names = new Map(s.sources.map((x) => [x.address, x.name]));
  const perSource: Record<string, number> = Object.fromEntries(s.sources.map((x) => [x.name, 0]));
  for (const a of arrivals) {
    const n = names.get(a.address) ?? a.address;
    perSource[n] = (perSource[n] ?? 0) + 1;
  }
  const submitted = s.messages.length;
  const queued = [...out.queued].filter((id) => !out.arrivals.has(id)).length;
  const f: StrategyFigures = {
    name: out.name,
    checkpoints: cps,
    attempts,
    refusals,
    refusalsPer100: attempts === 0 ? 0 : (100 * refusals) / attempts,
    refusalsByProvider,
    medianMs: quantile(times, 0.5),
    p95Ms: quantile(times, 0.95),
    submitted,
    delivered: arrivals.length,
    queued,
    queuedDelivered: out.queued.size - queued,
    bounced: out.bounced,
    lost: submitted - arrivals.length - queued - out.bounced,
    duplicated: out.duplicates,
    perSource,
    penalties,
  };
  return out.submitError === undefined ? f : { ...f, submitError: out.submitError };
}

export function buildReport(
  s: FamilyScenario,
  minutes: number,
  loadavg: ScenarioReport['loadavg'],
  strategies: readonly StrategyFigures[],
): ScenarioReport {
  return {
    seed: s.seed,
    minutes,
    description: describeScenario(s),
    loadavg,
    oracle: checkpoints(minutes).map((m) => ({ minutes: m, ...oracle(s, m * 60_000) })),
    strategies,
    definitions: [
      TIME_DEFINITION,
      'oracle = the most any sender knowing the hidden limits could deliver (sim/family.ts oracle())',
      REFUSAL_DEFINITION,
      'lost = submitted − delivered − still queued − bounced; duplicated = extra arrivals of a delivered Message-ID',
    ],
  };
}

const sec = (ms: number | null): string => (ms === null ? '-' : `${(ms / 1000).toFixed(1)}s`);
const load = (l: readonly number[]): string => l.map((x) => x.toFixed(2)).join(' ');

function table(rows: string[][]): string[] {
  const widths = (rows[0] as string[]).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  '),
  );
}

/** The report as printable lines: description, main table, per-provider table, definitions. */
export function formatReport(r: ScenarioReport): string[] {
  const out = [
    ...r.description,
    `load average (1/5/15 min) at start ${load(r.loadavg.start)}, at end ${load(r.loadavg.end)}`,
    '',
  ];
  const head = [
    'strategy',
    ...r.oracle.map((o) => `@${o.minutes}min (% oracle)`),
    'refusals/100',
    'median',
    'p95',
    'queued',
    'bounced',
    'lost',
    'dup',
    'per source',
  ];
  const rows = [head, ['oracle', ...r.oracle.map((o) => String(o.total)), '', '', '', '', '', '', '', '']];
  for (const f of r.strategies) {
    rows.push([
      f.name,
      ...f.checkpoints.map((c) => `${c.delivered} (${c.pctOracle.toFixed(0)}%)`),
      f.refusalsPer100.toFixed(1),
      sec(f.medianMs),
      sec(f.p95Ms),
      String(f.queued),
      String(f.bounced),
      String(f.lost),
      String(f.duplicated),
      Object.entries(f.perSource)
        .map(([n, c]) => `${n}=${c}`)
        .join(' '),
    ]);
  }
  out.push(...table(rows), '');
  const ph = ['per provider', ...r.oracle.flatMap((o) => PROVIDERS.map((p) => `${p}@${o.minutes}`))];
  const prow = [ph, ['oracle', ...r.oracle.flatMap((o) => PROVIDERS.map((p) => String(o.byProvider[p])))]];
  for (const f of r.strategies)
    prow.push([f.name, ...f.checkpoints.flatMap((c) => PROVIDERS.map((p) => String(c.byProvider[p])))]);
  out.push(...table(prow), '');
  for (const f of r.strategies) {
    const rp = Object.entries(f.refusalsByProvider)
      .map(([p, x]) => `${p} ${x.refusals}/${x.attempts}`)
      .join(', ');
    out.push(
      `${f.name}: refusals/attempts ${rp}; penalties started ${f.penalties}${f.queuedDelivered ? `; ${f.queuedDelivered} delivered but still queued` : ''}${f.submitError ? `; SUBMIT ERROR ${f.submitError}` : ''}`,
    );
  }
  out.push(...r.definitions.map((d) => `  ${d}`));
  return out;
}
