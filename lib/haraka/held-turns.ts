/**
 * The messages this process holds in-process for their turn on a full lane
 * (lib/core/turn.ts), by lane. A turn is an estimate; when a delivery of this
 * process ends on that lane, the held message whose turn is soonest tries at
 * once instead of at its turn, so a slot that frees sooner than expected is
 * not left idle, and one that frees later is not missed.
 */

interface Held {
  readonly due: number;
  readonly go: () => void;
  timer?: NodeJS.Timeout;
}

export class HeldTurns {
  private readonly byLane = new Map<string, Set<Held>>();

  /** Holds a message for `ms`, then calls `go`; `lane`: its lane key, `due`: its turn (epoch ms). */
  hold(lane: string, due: number, ms: number, go: () => void): void {
    const held: Held = { due, go };
    const set = this.byLane.get(lane) ?? new Set<Held>();
    set.add(held);
    this.byLane.set(lane, set);
    held.timer = setTimeout(() => this.run(lane, held), ms);
  }

  /** A delivery on `lane` ended: the held message with the soonest turn tries now. False when none is held. */
  wake(lane: string): boolean {
    let first: Held | undefined;
    for (const held of this.byLane.get(lane) ?? []) if (!first || held.due < first.due) first = held;
    if (!first) return false;
    clearTimeout(first.timer);
    this.run(lane, first);
    return true;
  }

  /** Messages held, on every lane. */
  get size(): number {
    let n = 0;
    for (const set of this.byLane.values()) n += set.size;
    return n;
  }

  private run(lane: string, held: Held): void {
    const set = this.byLane.get(lane);
    set?.delete(held);
    if (set?.size === 0) this.byLane.delete(lane);
    held.go();
  }
}
