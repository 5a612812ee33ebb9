/** Validates paceline-warmup.yaml: named warm-up schedules. */

import type { Schedule } from '../core/warmup';
import { isMapping, join, type IssueList } from './errors';

export const WARMUP_FILE = 'paceline-warmup.yaml';

/** A schedule with its optional active hours (minutes after local midnight). */
export interface ScheduleConfig extends Schedule {
  /** Active window [from, to) in minutes after local midnight; undefined = all day. */
  readonly activeMinutes?: readonly [number, number];
}

const KEYS = [
  'progression',
  'days',
  'providers',
  'hourly',
  'min_usage',
  'max_throttle_ratio',
  'step_back_after',
  'rewarm_after_days',
  'rewarm_from_day',
  'allow_decrease',
  'active_hours',
];

function ramp(issues: IssueList, path: string, raw: unknown, allowDecrease: boolean): number[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) {
    issues.add(path, raw, 'a non-empty list of messages per day for day 1, 2, 3 ...');
    return undefined;
  }
  let ok = true;
  raw.forEach((n, i) => {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
      issues.add(join(path, i), n, 'a whole number of messages ≥ 1');
      ok = false;
    } else if (!allowDecrease && i > 0 && n < (raw[i - 1] as number)) {
      issues.add(
        join(path, i),
        n,
        `at least day ${i}'s ${String(raw[i - 1])} (days must not decrease unless allow_decrease: true)`,
      );
      ok = false;
    }
  });
  return ok ? (raw as number[]) : undefined;
}

function number(
  issues: IssueList,
  path: string,
  raw: unknown,
  fallback: number,
  check: (n: number) => boolean,
  expected: string,
): number {
  if (raw === undefined) return fallback;
  if (typeof raw === 'number' && check(raw)) return raw;
  issues.add(path, raw, expected);
  return fallback;
}

function activeHours(issues: IssueList, path: string, raw: unknown): [number, number] | undefined {
  if (raw === undefined) return undefined;
  const m = typeof raw === 'string' ? /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(raw) : null;
  const from = m ? Number(m[1]) * 60 + Number(m[2]) : NaN;
  const to = m ? Number(m[3]) * 60 + Number(m[4]) : NaN;
  if (!m || !(from < to) || to > 24 * 60 || Number(m[2]) > 59 || Number(m[4]) > 59) {
    issues.add(path, raw, 'a local time window like "08:00-20:00" (start before end)');
    return undefined;
  }
  return [from, to];
}

function parseSchedule(
  issues: IssueList,
  name: string,
  raw: unknown,
  providers: ReadonlySet<string>,
): ScheduleConfig | undefined {
  const path = join('schedules', name);
  if (!isMapping(raw)) {
    issues.add(path, raw, 'a mapping with days and optional providers, progression ...');
    return undefined;
  }
  issues.unknownKeys(path, raw, KEYS);
  const allowDecrease = raw.allow_decrease === true;
  if (raw.allow_decrease !== undefined && typeof raw.allow_decrease !== 'boolean')
    issues.add(join(path, 'allow_decrease'), raw.allow_decrease, 'true or false');
  const days = ramp(issues, join(path, 'days'), raw.days, allowDecrease);
  const byProvider = new Map<string, readonly number[]>();
  const prov = raw.providers ?? {};
  if (!isMapping(prov))
    issues.add(join(path, 'providers'), prov, 'a mapping of provider name to a list of messages per day');
  else {
    for (const [p, list] of Object.entries(prov)) {
      if (!providers.has(p))
        issues.add(join(join(path, 'providers'), p), list, `a known provider (known: ${[...providers].join(', ')})`);
      const r = ramp(issues, join(join(path, 'providers'), p), list, allowDecrease);
      if (r) byProvider.set(p, r);
    }
  }
  const hourly = raw.hourly === undefined ? undefined : ramp(issues, join(path, 'hourly'), raw.hourly, allowDecrease);
  const progression = raw.progression ?? 'calendar';
  if (progression !== 'calendar' && progression !== 'earned')
    issues.add(join(path, 'progression'), progression, '"calendar" or "earned"');
  const frac = (n: number) => n > 0 && n <= 1;
  const whole = (n: number) => Number.isSafeInteger(n) && n >= 1;
  const schedule: ScheduleConfig = {
    name,
    days: days ?? [1],
    providers: byProvider,
    ...(hourly ? { hourly } : {}),
    progression: progression === 'earned' ? 'earned' : 'calendar',
    minUsage: number(issues, join(path, 'min_usage'), raw.min_usage, 0.8, frac, 'a share greater than 0 and at most 1'),
    maxThrottleRatio: number(
      issues,
      join(path, 'max_throttle_ratio'),
      raw.max_throttle_ratio,
      0.02,
      (n) => n >= 0 && n <= 1,
      'a ratio from 0 to 1',
    ),
    stepBackAfter: number(
      issues,
      join(path, 'step_back_after'),
      raw.step_back_after,
      3,
      whole,
      'a whole number of days ≥ 1',
    ),
    rewarmAfterDays: number(
      issues,
      join(path, 'rewarm_after_days'),
      raw.rewarm_after_days,
      30,
      whole,
      'a whole number of days ≥ 1',
    ),
    rewarmFromDay: number(issues, join(path, 'rewarm_from_day'), raw.rewarm_from_day, 1, whole, 'a schedule day ≥ 1'),
  };
  const active = activeHours(issues, join(path, 'active_hours'), raw.active_hours);
  return Object.freeze(active ? { ...schedule, activeMinutes: active } : schedule);
}

/** Validates the warm-up document; every problem goes to `issues`. */
export function validateWarmup(
  issues: IssueList,
  doc: unknown,
  providers: ReadonlySet<string>,
): ReadonlyMap<string, ScheduleConfig> {
  const out = new Map<string, ScheduleConfig>();
  const root = doc ?? {};
  if (!isMapping(root)) {
    issues.add('', root, 'a YAML mapping with schedules');
    return out;
  }
  issues.unknownKeys('', root, ['schedules']);
  const schedules = root.schedules ?? {};
  if (!isMapping(schedules)) {
    issues.add('schedules', schedules, 'a mapping of schedule name to schedule');
    return out;
  }
  for (const [name, raw] of Object.entries(schedules)) {
    const s = parseSchedule(issues, name, raw, providers);
    if (s) out.set(name, s);
  }
  return out;
}
