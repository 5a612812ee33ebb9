/**
 * Per-lane outcome counters for `paceline status`: what the lane's attempts
 * came to (delivered, deferred by category, bounced, throttle replies) today
 * and in the last hour. Kept as flat fields so that both stores hold them the
 * same way (a Redis hash; lib/store/lua/tally-3.lua mirrors this file):
 *
 *   d<day>:<name>     count of the day (day number in the configured zone)
 *   m<bucket>:<name>  count of a 5-minute bucket (epoch ms / 300 000)
 *
 * Pure: the clock and the zone offset come in as arguments.
 */

import { dayNumber } from './day';

/** Width of one bucket of the last hour (ms). */
export const TALLY_BUCKET_MS = 300_000;
/** Buckets summed for "the last hour": the current one and the 11 before it (55 to 60 minutes). */
export const TALLY_HOUR_BUCKETS = 12;

/** Stored counter fields (see the file header). */
export type TallyFields = Record<string, number>;
/** Counts by name: attempts, delivered, bounced, throttles, deferred:<category>. */
export type Tally = Record<string, number>;

/** The 5-minute bucket of an instant. */
export const tallyBucket = (now: number): number => Math.floor(now / TALLY_BUCKET_MS);

/** Adds 1 to each of `names` for today and for the current bucket; drops fields older than yesterday or the hour. */
export function addTally(fields: TallyFields, names: readonly string[], now: number, dayOffsetMs: number): TallyFields {
  const day = dayNumber(now, dayOffsetMs);
  const bucket = tallyBucket(now);
  const out: TallyFields = {};
  for (const [field, n] of Object.entries(fields)) if (fresh(field, day, bucket)) out[field] = n;
  for (const name of names) {
    out[`d${day}:${name}`] = (out[`d${day}:${name}`] ?? 0) + 1;
    out[`m${bucket}:${name}`] = (out[`m${bucket}:${name}`] ?? 0) + 1;
  }
  return out;
}

/** A field worth keeping: a day field of today or yesterday, a bucket field of the last hour. */
function fresh(field: string, day: number, bucket: number): boolean {
  const m = /^([dm])(\d+):/.exec(field);
  if (!m) return false;
  const n = Number(m[2]);
  return m[1] === 'd' ? n >= day - 1 : n > bucket - TALLY_HOUR_BUCKETS;
}

/** Today's counts and the last hour's, from the stored fields. */
export function readTally(fields: TallyFields, now: number, dayOffsetMs: number): { today: Tally; lastHour: Tally } {
  const day = dayNumber(now, dayOffsetMs);
  const bucket = tallyBucket(now);
  const today: Tally = {};
  const lastHour: Tally = {};
  for (const [field, n] of Object.entries(fields)) {
    const m = /^([dm])(\d+):(.+)$/.exec(field);
    if (!m) continue;
    const at = Number(m[2]);
    const name = m[3] as string;
    if (m[1] === 'd' && at === day) today[name] = (today[name] ?? 0) + n;
    if (m[1] === 'm' && at > bucket - TALLY_HOUR_BUCKETS && at <= bucket) lastHour[name] = (lastHour[name] ?? 0) + n;
  }
  return { today, lastHour };
}
