/**
 * `paceline plan SOURCE [--provider P] [--config DIR] [--json]`: a source's
 * warm-up ramp as a table: schedule day, date, cap per provider, and where
 * the source stands today when its start is known.
 */

import { dateDayNumber, dayDate, dayNumber, zoneOffsetMs } from '../core/day';
import { ramp } from '../core/warmup';
import { loadConfigFromDir } from '../config/load';
import type { Config } from '../config/types';
import type { Output } from './check';

export const PLAN_USAGE =
  'usage: paceline plan SOURCE [--provider P] [--config HARAKA_DIR] [--start YYYY-MM-DD] [--json]';

interface PlanOptions {
  source: string;
  provider?: string;
  config: string;
  start?: string;
  json: boolean;
}

function parseArgs(args: readonly string[]): PlanOptions | string {
  const o: Partial<PlanOptions> & { json: boolean; config: string } = { json: false, config: '.' };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const value = () => args[++i];
    if (a === '--json') o.json = true;
    else if (a === '--provider') o.provider = value();
    else if (a === '--config') o.config = value() ?? '';
    else if (a === '--start') o.start = value();
    else if (a.startsWith('-')) return `unknown option ${a}`;
    else if (o.source === undefined) o.source = a;
    else return `unexpected argument ${a}`;
  }
  if (!o.source) return 'a SOURCE name is required';
  return o as PlanOptions;
}

export interface PlanRow {
  day: number;
  date: string | null;
  caps: Record<string, number | null>;
  today: boolean;
}

/** The plan of a source, or an error message. */
export function buildPlan(
  config: Config,
  o: { source: string; provider?: string; start?: string },
  now: number,
): { schedule: string; rows: PlanRow[] } | string {
  const source = config.sources.get(o.source);
  if (!source) return `no source "${o.source}" (sources: ${[...config.sources.keys()].join(', ')})`;
  if (!source.warmup) return `source "${o.source}" has no warm-up schedule: it is warm`;
  const schedule = config.schedules.get(source.warmup.schedule);
  if (!schedule) return `schedule "${source.warmup.schedule}" is not defined`;
  const providers = o.provider ? [o.provider] : ['(default)', ...schedule.providers.keys()];
  if (o.provider && !config.providers.has(o.provider)) return `no provider "${o.provider}"`;
  const start = o.start ? dateDayNumber(o.start) : source.warmup.start;
  const today = dayNumber(now, zoneOffsetMs(config.settings.timezone, now));
  const length = Math.max(...providers.map((p) => ramp(schedule, p).length));
  const rows: PlanRow[] = [];
  for (let day = 1; day <= length; day++) {
    const caps: Record<string, number | null> = {};
    for (const p of providers) caps[p] = ramp(schedule, p)[day - 1] ?? null;
    const date = start === undefined ? null : dayDate(start + day - 1);
    rows.push({ day, date, caps, today: start !== undefined && start + day - 1 === today });
  }
  return { schedule: `${schedule.name} (${schedule.progression})`, rows };
}

function table(source: string, plan: { schedule: string; rows: PlanRow[] }): string[] {
  const providers = Object.keys(plan.rows[0]?.caps ?? {});
  const head = ['day', 'date', ...providers].map((h) => h.padStart(14)).join('');
  const lines = [`warm-up of ${source}: schedule ${plan.schedule}`, head];
  for (const r of plan.rows) {
    const cells = [
      String(r.day),
      r.date ?? '-',
      ...providers.map((p) => (r.caps[p] === null ? 'warm' : String(r.caps[p]))),
    ];
    lines.push(
      cells.map((c) => c.padStart(14)).join('') +
        (r.today
          ? plan.schedule.includes('earned')
            ? '   <- today by the calendar (earned days may lag: see paceline status)'
            : '   <- today'
          : ''),
    );
  }
  lines.push('after the last day the source is warm: only its normal limits apply');
  if (plan.rows.every((r) => r.date === null))
    lines.push('(no start date: the warm-up starts the first time paceline sends from the source)');
  return lines;
}

export function planCommand(args: readonly string[], io: Output, now = Date.now()): number {
  const o = parseArgs(args);
  if (typeof o === 'string') {
    io.err(`paceline plan: ${o}\n${PLAN_USAGE}`);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfigFromDir(o.config);
  } catch (err) {
    io.err(`paceline plan: ${(err as Error).message}`);
    return 1;
  }
  const plan = buildPlan(config, o, now);
  if (typeof plan === 'string') {
    io.err(`paceline plan: ${plan}`);
    return 1;
  }
  if (o.json) io.out(JSON.stringify({ source: o.source, schedule: plan.schedule, days: plan.rows }));
  else for (const line of table(o.source, plan)) io.out(line);
  return 0;
}
