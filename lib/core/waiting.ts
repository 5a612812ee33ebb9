/**
 * The messages this process has told Haraka to wait (DELAY, or held
 * in-process), by lane: for `paceline status`, how many wait on each lane and
 * since when the oldest was queued. A delayed message is forgotten when its
 * next decision sends, bounces or passes it. Per process, like source health.
 */

/** Messages waiting on one lane (`source` null: no slot booked yet, only the provider is known). */
export interface WaitingLane {
  readonly source: string | null;
  readonly provider: string;
  readonly count: number;
  /** When the oldest of them was queued (epoch ms). */
  readonly oldestQueuedAt: number;
}

export class WaitingMessages {
  private readonly byId = new Map<string, { source: string | null; provider: string; queuedAt: number }>();

  /** Message `id` waits on `provider` (and on `source` when it booked a slot there). */
  delayed(id: string, provider: string, source: string | null, queuedAt: number): void {
    this.byId.set(id, { source, provider, queuedAt });
  }

  /** Message `id` no longer waits (sent, bounced, passed). */
  gone(id: string): void {
    this.byId.delete(id);
  }

  /** Counts by lane, sorted by provider then source. */
  lanes(): WaitingLane[] {
    const out = new Map<string, { source: string | null; provider: string; count: number; oldestQueuedAt: number }>();
    for (const w of this.byId.values()) {
      const key = `${w.source ?? ''}|${w.provider}`;
      const lane = out.get(key);
      if (lane) {
        lane.count++;
        lane.oldestQueuedAt = Math.min(lane.oldestQueuedAt, w.queuedAt);
      } else out.set(key, { source: w.source, provider: w.provider, count: 1, oldestQueuedAt: w.queuedAt });
    }
    return [...out.values()].sort(
      (a, b) => a.provider.localeCompare(b.provider) || (a.source ?? '').localeCompare(b.source ?? ''),
    );
  }
}

/** The per-process lists summed: counts added, the oldest kept. */
export function sumWaiting(lists: ReadonlyArray<readonly WaitingLane[]>): WaitingLane[] {
  const out = new Map<string, WaitingLane>();
  for (const w of lists.flat()) {
    const key = `${w.source ?? ''}|${w.provider}`;
    const had = out.get(key);
    out.set(
      key,
      had
        ? { ...had, count: had.count + w.count, oldestQueuedAt: Math.min(had.oldestQueuedAt, w.oldestQueuedAt) }
        : { ...w },
    );
  }
  return [...out.values()].sort(
    (a, b) => a.provider.localeCompare(b.provider) || (a.source ?? '').localeCompare(b.source ?? ''),
  );
}
