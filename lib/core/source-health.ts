/**
 * Which sources of this process can reach anything at all. A source whose
 * address cannot be bound here, or from which no connection opens, fails every
 * message it is given; after `downAfter` such attempts in a row (no delivery
 * and no reply in between) it is marked down for `downMs` and its pools send
 * from their other sources. Then it is tried again: one more failure marks it
 * down again, a delivery or any reply clears it.
 *
 * Kept per process, not in the store: whether an address binds is a fact of
 * this host (with Redis, the same source may be fine on another node), and a
 * restart forgets nothing that the next few attempts would not relearn.
 */

export interface SourceHealthParams {
  /** Attempts in a row that reached no MX host before the source is marked down. */
  readonly downAfter: number;
  /** How long a source stays down before it is tried again (ms). */
  readonly downMs: number;
}

/** A source with failures in a row, as `paceline status` shows it. */
export interface SourceTrouble {
  readonly source: string;
  /** Attempts in a row that reached no MX host. */
  readonly failures: number;
  /** down: left out of its pools until `until`; retrying: down time over, being tried; failing: below down_after. */
  readonly state: 'down' | 'retrying' | 'failing';
  /** Epoch ms of the first failure in the row. */
  readonly since: number;
  /** Epoch ms the down mark ends (0 if never marked). */
  readonly until: number;
  /** What the last failure looked like, e.g. "cannot bind 192.0.2.1 (EADDRNOTAVAIL)". */
  readonly reason: string;
}

/** What one failure did. */
export interface FailureReport {
  readonly failures: number;
  /** This failure marked the source down (until `until`). */
  readonly marked: boolean;
  readonly until: number;
}

interface Entry {
  failures: number;
  since: number;
  until: number;
  reason: string;
}

export class SourceHealth {
  private readonly entries = new Map<string, Entry>();

  constructor(private params: SourceHealthParams) {}

  reconfigure(params: SourceHealthParams): void {
    this.params = params;
  }

  /** An attempt from `source` reached no MX host (bind or connect failed on every one). */
  failed(source: string, now: number, reason: string): FailureReport {
    const e = this.entries.get(source) ?? { failures: 0, since: now, until: 0, reason };
    e.failures += 1;
    e.reason = reason;
    this.entries.set(source, e);
    // while down, failures of attempts already under way do not extend the mark
    const marked = e.failures >= this.params.downAfter && e.until <= now;
    if (marked) e.until = now + this.params.downMs;
    return { failures: e.failures, marked, until: e.until };
  }

  /** An attempt from `source` got a delivery or any reply: it can send. Returns true if it had failures. */
  reached(source: string): boolean {
    return this.entries.delete(source);
  }

  /** True while `source` is left out of its pools. */
  isDown(source: string, now: number): boolean {
    const e = this.entries.get(source);
    return e !== undefined && e.until > now;
  }

  /** Every source with failures in a row, by name. */
  troubles(now: number): SourceTrouble[] {
    return [...this.entries]
      .map(([source, e]): SourceTrouble => ({
        source,
        failures: e.failures,
        state: e.until > now ? 'down' : e.until > 0 ? 'retrying' : 'failing',
        since: e.since,
        until: e.until,
        reason: e.reason,
      }))
      .sort((a, b) => a.source.localeCompare(b.source));
  }
}
