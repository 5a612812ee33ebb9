/**
 * Rate strings, KumoMTA style: `30/min`, `1000/h,burst=20`, `5/s`, `20000/day`.
 * Parsed once at config load into a Rate; `formatRate` gives the canonical
 * spelling so that parse(format(r)) equals r and the canonical string can be
 * used as the key of the rate's state (a changed limit is noticed, and the
 * slot clock rescaled by old interval / new interval: lib/core/pace.ts).
 */

/** A message rate with a burst allowance. */
export interface Rate {
  /** Messages allowed per period. */
  readonly count: number;
  /** Period length in milliseconds. */
  readonly periodMs: number;
  /** How many messages may go back to back before spacing applies (≥ 1). */
  readonly burst: number;
}

const PERIODS: ReadonlyArray<readonly [string, number, readonly string[]]> = [
  ['s', 1000, ['s', 'sec', 'second']],
  ['min', 60_000, ['m', 'min', 'minute']],
  ['h', 3_600_000, ['h', 'hr', 'hour']],
  ['day', 86_400_000, ['d', 'day']],
];

const RATE = /^(\d+)\s*\/\s*([a-z]+)$/;

/** Parses a rate string; returns an error message instead of throwing. */
export function parseRate(text: string): Rate | string {
  const [head = '', ...options] = text.trim().toLowerCase().split(',');
  const m = RATE.exec(head.trim());
  if (!m) return 'a rate like "30/min" or "1000/h,burst=20"';
  const count = Number(m[1]);
  const unit = m[2] as string;
  const period = PERIODS.find(([, , names]) => names.includes(unit) || names.map((n) => `${n}s`).includes(unit));
  if (!period) return `a period of s, min, h or day (not "${unit}")`;
  if (count < 1 || !Number.isSafeInteger(count)) return 'a whole number of messages ≥ 1 per period';
  let burst = 1;
  for (const option of options) {
    const o = /^\s*burst\s*=\s*(\d+)\s*$/.exec(option);
    if (!o) return `only the option burst=N after the rate (not "${option.trim()}")`;
    burst = Number(o[1]);
    if (burst < 1 || !Number.isSafeInteger(burst)) return 'burst=N with N a whole number ≥ 1';
  }
  return Object.freeze({ count, periodMs: period[1], burst });
}

const canonical = new WeakMap<Rate, string>();

/** Canonical spelling of a rate: `30/min`, `1000/h,burst=20` (memoised: it keys every lane step). */
export function formatRate(rate: Rate): string {
  let text = canonical.get(rate);
  if (text === undefined) {
    text = spell(rate);
    canonical.set(rate, text);
  }
  return text;
}

function spell(rate: Rate): string {
  const period = PERIODS.find(([, ms]) => ms === rate.periodMs);
  const base = period ? `${rate.count}/${period[0]}` : `${rate.count}/${rate.periodMs}ms`;
  return rate.burst === 1 ? base : `${base},burst=${rate.burst}`;
}

/** Milliseconds between two messages at a steady pace (GCRA emission interval T). */
export function intervalMs(rate: Rate): number {
  return rate.periodMs / rate.count;
}

/** Interval of a canonical rate string (`formatRate`), ms; undefined for anything else. */
export function keyIntervalMs(key: string): number | undefined {
  const m = /^(\d+)\/(s|min|h|day|(\d+)ms)(?:,|$)/.exec(key);
  if (!m) return undefined;
  const periodMs =
    m[3] !== undefined ? Number(m[3]) : (PERIODS.find(([name]) => name === m[2]) as (typeof PERIODS)[number])[1];
  return periodMs / Number(m[1]);
}

/** Messages per minute at a steady pace. */
export function perMinute(rate: Rate): number {
  return 60_000 / intervalMs(rate);
}
