/**
 * What a lane's attempts came to, for `paceline status`: the outcome
 * counters of lib/core/tally.ts as numbers, with throttle replies per 100
 * attempts. Pure.
 */

import { readTally, type Tally, type TallyFields } from '../core/tally';

/** Counts over one period (today, or the last hour). */
export interface OutcomeCounts {
  /** Delivery attempts that ended (delivered, deferred or bounced by the remote side). */
  attempts: number;
  delivered: number;
  /** Deferrals by reply category (throttle, transient, ...; `unreached` = no MX host reached, `none` = no reply). */
  deferred: Record<string, number>;
  bounced: number;
  /** Replies the rules call throttle. */
  throttles: number;
  /** throttles × 100 ÷ attempts, one decimal; null without attempts. */
  throttlesPer100: number | null;
}

function counts(t: Tally): OutcomeCounts {
  const attempts = t.attempts ?? 0;
  const throttles = t.throttles ?? 0;
  const deferred: Record<string, number> = {};
  for (const [name, n] of Object.entries(t))
    if (name.startsWith('deferred:')) deferred[name.slice('deferred:'.length)] = n;
  return {
    attempts,
    delivered: t.delivered ?? 0,
    deferred,
    bounced: t.bounced ?? 0,
    throttles,
    throttlesPer100: attempts > 0 ? Math.round((throttles * 1000) / attempts) / 10 : null,
  };
}

/** Today's and the last hour's counts of a lane from its stored fields. */
export function outcomeCounts(
  fields: TallyFields,
  now: number,
  dayOffsetMs: number,
): { today: OutcomeCounts; lastHour: OutcomeCounts } {
  const { today, lastHour } = readTally(fields, now, dayOffsetMs);
  return { today: counts(today), lastHour: counts(lastHour) };
}

/** `delivered/deferred/bounced` for a table cell. */
export function countsCell(c: OutcomeCounts): string {
  const deferred = Object.values(c.deferred).reduce((a, b) => a + b, 0);
  return `${c.delivered}/${deferred}/${c.bounced}`;
}
