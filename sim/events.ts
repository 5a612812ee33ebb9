/**
 * The simulator's agenda: a binary min-heap of timed events. Ties on time are
 * broken by insertion order, so the run never depends on heap internals.
 */

interface Entry<T> {
  readonly at: number;
  readonly seq: number;
  readonly event: T;
}

function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/** Events ordered by time (epoch ms of the simulated clock), then by insertion. */
export class Agenda<T> {
  private readonly heap: Entry<T>[] = [];
  private seq = 0;

  get size(): number {
    return this.heap.length;
  }

  /** Schedules `event` at simulated time `at` (epoch ms). */
  push(at: number, event: T): void {
    const heap = this.heap;
    heap.push({ at, seq: this.seq++, event });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i] as Entry<T>, heap[parent] as Entry<T>)) break;
      [heap[i], heap[parent]] = [heap[parent] as Entry<T>, heap[i] as Entry<T>];
      i = parent;
    }
  }

  /** Every scheduled event, in no particular order. */
  *events(): IterableIterator<T> {
    for (const e of this.heap) yield e.event;
  }

  /** Time of the earliest event, or Infinity when none is left. */
  peekAt(): number {
    return this.heap[0]?.at ?? Infinity;
  }

  /** Removes and returns the earliest event. */
  pop(): { at: number; event: T } | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (!top || !last) return undefined;
    if (heap.length > 0) {
      heap[0] = last;
      this.siftDown();
    }
    return { at: top.at, event: top.event };
  }

  private siftDown(): void {
    const heap = this.heap;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && before(heap[l] as Entry<T>, heap[m] as Entry<T>)) m = l;
      if (r < heap.length && before(heap[r] as Entry<T>, heap[m] as Entry<T>)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m] as Entry<T>, heap[i] as Entry<T>];
      i = m;
    }
  }
}
