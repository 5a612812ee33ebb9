/**
 * Day boundaries for daily volumes and warm-up days, in a configured time
 * zone. A day's number is the count of days since the epoch in that zone;
 * `offsetMs` is the zone's offset from UTC at the instant (DST included).
 */

export const DAY_MS = 86_400_000;

/** Days since the epoch, in a zone `offsetMs` ahead of UTC, of the instant `now` (epoch ms). */
export function dayNumber(now: number, offsetMs = 0): number {
  return Math.floor((now + offsetMs) / DAY_MS);
}

/** Epoch ms at which the day after `now`'s day starts. */
export function nextDayStartMs(now: number, offsetMs = 0): number {
  return (dayNumber(now, offsetMs) + 1) * DAY_MS - offsetMs;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Offsets change only on quarter-hour instants (every zone's offset is a multiple of 15 min). */
const QUARTER_MS = 900_000;
const lastOffset = new Map<string, { quarter: number; offset: number }>();

/**
 * The UTC offset (ms) of IANA zone `tz` at instant `now`; throws RangeError
 * for an unknown zone. Memoised per zone and quarter hour: it is asked for
 * every candidate lane of every decision.
 */
export function zoneOffsetMs(tz: string, now: number): number {
  if (tz === 'UTC') return 0;
  const quarter = Math.floor(now / QUARTER_MS);
  const hit = lastOffset.get(tz);
  if (hit && hit.quarter === quarter) return hit.offset;
  const offset = computeOffset(tz, now);
  lastOffset.set(tz, { quarter, offset });
  return offset;
}

function computeOffset(tz: string, now: number): number {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(tz, f);
  }
  const parts: Record<string, number> = {};
  for (const p of f.formatToParts(new Date(now))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const asUtc = Date.UTC(
    parts.year as number,
    (parts.month as number) - 1,
    parts.day,
    parts.hour,
    parts.minute,
    parts.second,
  );
  return asUtc - Math.floor(now / 1000) * 1000;
}

/** The day number of a calendar date `YYYY-MM-DD` (the same in every zone). */
export function dateDayNumber(date: string): number | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return undefined;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  const d = new Date(t);
  if (d.getUTCFullYear() !== Number(m[1]) || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3]))
    return undefined;
  return t / DAY_MS;
}

/** `YYYY-MM-DD` of a day number. */
export function dayDate(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}
