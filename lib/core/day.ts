/**
 * Day boundaries for daily volumes. Days are UTC days; the warm-up work adds
 * a configurable time zone on top of these two functions.
 */

export const DAY_MS = 86_400_000;

/** Days since the epoch (UTC) of the instant `now` (epoch ms). */
export function dayNumber(now: number): number {
  return Math.floor(now / DAY_MS);
}

/** Epoch ms at which the day after `now`'s day starts. */
export function nextDayStartMs(now: number): number {
  return (dayNumber(now) + 1) * DAY_MS;
}
