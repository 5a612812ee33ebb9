/**
 * The comparison table and the targets, as text. Pure: figures in, lines out,
 * so that the same seed prints the same bytes.
 */

import type { Figures } from './metrics';
import { HIDDEN, type Scenario } from './scenario';

/** Targets for paceline: share of the hidden capacity and throttle replies per 100 attempts. */
export const TARGETS = { minPctOfCapacity: 85, maxThrottlesPer100: 3 } as const;

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const fix = (n: number, d = 1): string => n.toFixed(d);

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
}

function clock(sc: Scenario, at: number): string {
  const min = Math.round((at - sc.t0) / 60_000);
  return `${String(Math.floor(min / 60)).padStart(2, '0')}:${String(min % 60).padStart(2, '0')}`;
}

/** The header: seed, run and the model's hidden parameters (printed for the reader; the engine never sees them). */
export function describe(sc: Scenario, classifier: string, adapt: string): string[] {
  const capacity = [...sc.capacity.values()].reduce((a, b) => a + b, 0);
  const backlog = sc.messages.filter((m) => m.queueTime === sc.t0).length;
  return [
    `paceline simulator · seed ${sc.seed} · ${sc.hours} h simulated · ${sc.sources.length} sources · MTA concurrency ${sc.maxInFlight}`,
    `offered ${int(sc.messages.length)} messages (${int(backlog)} queued at the start, the rest arriving at a steady rate)`,
    `hidden capacity over the run ${int(capacity)} messages (${[...sc.capacity].map(([p, c]) => `${p} ${int(c)}`).join(', ')})`,
    `  microsoft365-like: ${HIDDEN.msStart}→${HIDDEN.msMax}/min per IP over ${HIDDEN.msRampHours} h of age ` +
      `(ages ${sc.sources.map((s) => s.ageHours).join(', ')} h); incident ${clock(sc, sc.incidentStart)}–${clock(sc, sc.incidentEnd)}: every IP throttled`,
    `  google-like: ${HIDDEN.gmail}/min per IP · yahoo-like: ${HIDDEN.yahoo}/min per IP, ${HIDDEN.yahooLockoutMs / 60_000} min [TSS04] lockout on excess`,
    `classifier: ${classifier} · paceline [adapt] overrides: ${adapt || 'none (shipped defaults)'}`,
  ];
}

/** The comparison table, one row per strategy, then one per strategy and provider. */
export function table(rows: readonly Figures[]): string[] {
  const w = [10, 10, 8, 7, 11, 9, 9, 12, 12, 8, 10];
  const out = [
    row(
      [
        'strategy',
        'delivered',
        '/hour',
        '% cap',
        'thr/100 att',
        'queue avg',
        'queue max',
        '/h incident',
        '/h outside',
        'queued',
        'decide/msg',
      ],
      w,
    ),
  ];
  for (const f of rows) {
    out.push(
      row(
        [
          f.strategy,
          int(f.delivered),
          int(f.deliveredPerHour),
          fix(f.pctOfCapacity),
          fix(f.throttlesPer100, 2),
          `${fix(f.meanQueueMin)}m`,
          `${fix(f.maxQueueMin)}m`,
          int(f.perHourInIncident),
          int(f.perHourOutside),
          int(f.queuedAtEnd),
          fix(f.decisionsPerDelivered),
        ],
        w,
      ),
    );
  }
  out.push(
    '',
    "% cap: delivered ÷ hidden capacity (a lane's one-minute window admits a little more at the start, so a provider can show 100.x %);",
    'thr/100 att: throttle replies per 100 delivery attempts; queue: enqueue to acceptance of delivered messages;',
    'decide/msg: engine decisions (Haraka send_email hook calls) per delivered message.',
  );
  out.push(
    '',
    row(['by provider', ...(rows[0]?.byProvider.map((p) => `${p.provider} %cap · thr/100`) ?? [])], [10, 26, 26, 26]),
  );
  for (const f of rows) {
    out.push(
      row(
        [f.strategy, ...f.byProvider.map((p) => `${fix(p.pctOfCapacity)} % · ${fix(p.throttlesPer100, 2)}`)],
        [10, 26, 26, 26],
      ),
    );
  }
  return out;
}

/** Whether paceline meets the targets, with the figures. */
export function verdict(f: Figures): { met: boolean; lines: string[] } {
  const cap = f.pctOfCapacity >= TARGETS.minPctOfCapacity;
  const thr = f.throttlesPer100 <= TARGETS.maxThrottlesPer100;
  return {
    met: cap && thr,
    lines: [
      `target: paceline ≥ ${TARGETS.minPctOfCapacity} % of hidden capacity: ${fix(f.pctOfCapacity)} % → ${cap ? 'met' : 'NOT met'}`,
      `target: paceline ≤ ${TARGETS.maxThrottlesPer100} throttle replies per 100 attempts: ${fix(f.throttlesPer100, 2)} → ${thr ? 'met' : 'NOT met'}`,
      `integrity: ${int(f.delivered)} delivered, ${f.duplicates} duplicates, ${f.lost} lost, ${int(f.queuedAtEnd)} still queued of ${int(f.offered)} offered`,
    ],
  };
}
