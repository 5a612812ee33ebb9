/**
 * Models of receiving providers. Each keeps HIDDEN per-source limits that the
 * engine never sees: the engine learns about them only from the replies, the
 * way a real MTA does. The simulator's scorer reads them (`limitPerMin`) to
 * know the capacity an oracle could have used.
 *
 * - Microsoft-365-like: a sliding one-minute window of accepted messages per
 *   source; the limit grows with the IP's age (probation), and during an
 *   incident window every source is answered "Server busy".
 * - Gmail-like: a fixed sliding-window rate per source; 421 4.7.28 above it.
 * - Yahoo-like: a fixed sliding-window rate per source; above it the source
 *   is refused with [TSS04] for a lockout period, whatever it sends.
 */

/** A sending IP as the provider sees it. */
export interface SimSource {
  readonly name: string;
  readonly address: string;
  /** Age of the IP (hours of sending history with Microsoft) when the run starts. */
  readonly ageHours: number;
}

/** A destination domain and the MX host that serves it. */
export interface SimDomain {
  readonly domain: string;
  readonly mxHost: string;
  readonly mxAddress: string;
}

/** What a provider answered to one delivery. */
export interface Answer {
  readonly accepted: boolean;
  /** The reply as Haraka reports a temporary failure. */
  readonly reply?: string;
}

export interface ProviderModel {
  /** The provider name paceline's shipped matcher gives these MX hosts. */
  readonly name: string;
  readonly domains: readonly SimDomain[];
  /** Answers one delivery from `source` ending at `now` (epoch ms). */
  answer(source: SimSource, now: number): Answer;
  /** The hidden acceptance limit of a source at `now`, messages per minute (0 = refuses all). */
  limitPerMin(source: SimSource, now: number): number;
}

const WINDOW_MS = 60_000;

/** Accepted messages of one source within the last minute (a sliding window). */
class SlidingWindow {
  private times: number[] = [];
  private head = 0;

  /** Messages accepted within (now - 1 min, now]. */
  count(now: number): number {
    while (this.head < this.times.length && (this.times[this.head] as number) <= now - WINDOW_MS) this.head++;
    if (this.head > 4096) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    return this.times.length - this.head;
  }

  add(now: number): void {
    this.times.push(now);
  }
}

/** Per-source sliding windows, created on first use. */
class Windows {
  private readonly bySource = new Map<string, SlidingWindow>();

  /** True (and counted) when one more message fits under `limit` per minute. */
  admit(source: string, now: number, limit: number): boolean {
    let w = this.bySource.get(source);
    if (!w) {
      w = new SlidingWindow();
      this.bySource.set(source, w);
    }
    if (w.count(now) >= limit) return false;
    w.add(now);
    return true;
  }
}

/** Microsoft-365-like probation: the limit grows geometrically with the IP's age. */
export interface MicrosoftParams {
  /** Limit of a brand-new IP, messages per minute. */
  readonly startPerMin: number;
  /** Limit of a fully warmed IP, messages per minute. */
  readonly maxPerMin: number;
  /** Hours of history for the limit to grow from start to max. */
  readonly rampHours: number;
  /** A provider-wide incident: every source is throttled from `incidentStart` until `incidentEnd` (epoch ms). */
  readonly incidentStart: number;
  readonly incidentEnd: number;
}

/** The Microsoft-365-like provider (451 4.7.500 ... (AS843)). */
export function microsoft(p: MicrosoftParams, t0: number, domains: readonly SimDomain[]): ProviderModel {
  const windows = new Windows();
  const growth = Math.log(p.maxPerMin / p.startPerMin) / p.rampHours;
  const limitPerMin = (s: SimSource, now: number): number => {
    if (now >= p.incidentStart && now < p.incidentEnd) return 0;
    const ageHours = s.ageHours + (now - t0) / 3_600_000;
    return Math.floor(Math.min(p.maxPerMin, p.startPerMin * Math.exp(growth * ageHours)));
  };
  return {
    name: 'microsoft365',
    domains,
    limitPerMin,
    answer(s, now) {
      if (windows.admit(s.name, now, limitPerMin(s, now))) return { accepted: true };
      return {
        accepted: false,
        reply: `Upstream error: 451 4.7.500 Server busy. Please try again later from [${s.address}]. (AS843)`,
      };
    },
  };
}

/** The Gmail-like provider: a fixed hidden rate per source (421-4.7.28 above it). */
export function gmail(perMin: number, domains: readonly SimDomain[]): ProviderModel {
  const windows = new Windows();
  return {
    name: 'google',
    domains,
    limitPerMin: () => perMin,
    answer(s, now) {
      if (windows.admit(s.name, now, perMin)) return { accepted: true };
      const text =
        `421-4.7.28 [${s.address} 15] Our system has detected an unusual rate of unsolicited mail originating from your IP address. ` +
        '421-4.7.28 To protect our users from spam, mail sent from your IP address has been temporarily rate limited. ' +
        '421 4.7.28 Please visit https://support.google.com/mail/?p=UnsolicitedRateLimitError to review our Bulk Email Senders Guidelines. - gsmtp';
      return { accepted: false, reply: text };
    },
  };
}

/** The Yahoo-like provider: a fixed hidden rate per source; exceeding it locks the source out. */
export function yahoo(perMin: number, lockoutMs: number, domains: readonly SimDomain[]): ProviderModel {
  const windows = new Windows();
  const lockedUntil = new Map<string, number>();
  return {
    name: 'yahoo',
    domains,
    limitPerMin: () => perMin,
    answer(s, now) {
      const locked = (lockedUntil.get(s.name) ?? 0) > now;
      if (!locked && windows.admit(s.name, now, perMin)) return { accepted: true };
      if (!locked) lockedUntil.set(s.name, now + lockoutMs);
      const text = `421 4.7.0 [TSS04] Messages from ${s.address} temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes`;
      return { accepted: false, reply: text };
    },
  };
}
