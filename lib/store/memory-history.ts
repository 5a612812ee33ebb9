/**
 * The memory store's lane history (lib/core/history.ts): per lane, minute
 * buckets for 48 h and day buckets for `keepDays`, old ones dropped at each
 * write, lanes with nothing left dropped by `sweep`. The memory store serves
 * one Haraka process (the plugin refuses it with several workers), so this
 * history is that process's; with Redis it is the cluster's.
 */

import {
  addCounts,
  dayNames,
  minuteOf,
  oldestDay,
  oldestMinute,
  type Counts,
  type LaneHistory,
  historyTtlMs,
  sortedCounts,
} from '../core/history';

interface Entry {
  /** Minute → bucket; inserted in time order, so the oldest come first. */
  readonly minutes: Map<number, { counts: Counts; pace: number }>;
  readonly days: Map<number, Counts>;
  keepDays: number;
  /** Last write (epoch ms). */
  at: number;
}

export class MemoryHistory {
  private readonly lanes = new Map<string, Entry>();

  /** Counts `names` in the lane's current minute and day; `pace` is the lane's factor now. */
  add(key: string, names: readonly string[], pace: number, now: number, today: number, keepDays: number): void {
    const entry = this.lanes.get(key) ?? { minutes: new Map(), days: new Map(), keepDays, at: now };
    entry.keepDays = keepDays;
    entry.at = now;
    this.lanes.set(key, entry);
    const minute = minuteOf(now);
    entry.minutes.set(minute, { counts: addCounts(entry.minutes.get(minute)?.counts, names), pace });
    const outcomes = dayNames(names);
    if (outcomes.length > 0) entry.days.set(today, addCounts(entry.days.get(today), outcomes));
    prune(entry, now, today);
  }

  /** The lane's buckets, oldest first (copies); minutes older than 48 h at `now` left out. */
  read(key: string, now: number): LaneHistory {
    const entry = this.lanes.get(key);
    if (!entry) return { minutes: [], days: [] };
    const from = oldestMinute(now);
    const minutes = [...entry.minutes]
      .filter(([m]) => m >= from)
      .map(([minute, b]) => ({ minute, counts: sortedCounts(b.counts), pace: b.pace }))
      .sort((a, b) => a.minute - b.minute);
    const days = [...entry.days]
      .map(([day, counts]) => ({ day, counts: sortedCounts(counts) }))
      .sort((a, b) => a.day - b.day);
    return { minutes, days };
  }

  /** Forgets lanes without a write for `historyTtlMs` (as Redis expires their hash). */
  sweep(now: number): void {
    for (const [key, entry] of this.lanes) if (now - entry.at > historyTtlMs(entry.keepDays)) this.lanes.delete(key);
  }

  /** Forgets the lanes `keep` says no to (lanes the memory store evicted: its cap bounds the history too). */
  retain(keep: (key: string) => boolean): void {
    for (const key of this.lanes.keys()) if (!keep(key)) this.lanes.delete(key);
  }

  clear(): void {
    this.lanes.clear();
  }
}

/** Drops the minutes before 48 h ago (oldest first: it stops at the first kept one) and the days before the kept ones. */
function prune(entry: Entry, now: number, today: number): void {
  const from = oldestMinute(now);
  for (const m of entry.minutes.keys()) {
    if (m >= from) break;
    entry.minutes.delete(m);
  }
  const fromDay = oldestDay(today, entry.keepDays);
  for (const d of entry.days.keys()) if (d < fromDay) entry.days.delete(d);
}
