/**
 * A provider's hidden per-IP limits as one exact, deterministic state machine.
 * The end-to-end receiver (bench/e2e.ts) and the simulator drive this same
 * class, so both judge a strategy against one model. Pure: no I/O, no clock;
 * every call takes `now` (epoch ms) as an argument and calls must come in
 * non-decreasing `now` order.
 */

/** A refused SMTP command: `code` and the reply text after it. */
export interface Refusal {
  readonly code: number;
  readonly message: string;
}

/** Refusing for a while an IP that keeps knocking after refusals. */
export interface Penalty {
  /** Refusals within {@link STRIKE_WINDOW_MS} that start the penalty. */
  readonly strikes: number;
  /** How long every attempt is refused once it starts, ms. */
  readonly durationMs: number;
}

/** What one source IP may do at one provider. */
export interface IpLimits {
  /** Sessions (TCP connections) open at once. */
  readonly sessions: number;
  /** Length of the sliding window, ms. */
  readonly windowMs: number;
  /** Accepted MAIL commands within any window of `windowMs`. */
  readonly perWindow: number;
  readonly penalty: Penalty | null;
}

/** A time when MAIL is refused: one IP (a rule bug) or every IP (`address` absent: an outage). */
export interface Blackout {
  /** ms since the limiter's origin `t0`, start inclusive, end exclusive */
  readonly startMs: number;
  readonly endMs: number;
  readonly address?: string;
}

/** Everything a {@link HiddenLimiter} needs; plain data (JSON-safe). */
export interface LimiterSpec {
  readonly provider: string;
  /** Limits per source address. */
  readonly limits: Readonly<Record<string, IpLimits>>;
  /** Limits for an address not in `limits` (the strictest of each field, by convention). */
  readonly unknown: IpLimits;
  readonly blackouts: readonly Blackout[];
  /** Reply code and text; `{ip}` in the text is replaced by the client's address. */
  readonly reply: { readonly code: number; readonly text: string };
}

/** Per-IP counters. An attempt is a connect or a MAIL; `accepted` counts accepted MAILs. */
export interface IpCounters {
  connects: number;
  connectRefusals: number;
  mails: number;
  mailRefusals: number;
  accepted: number;
  /** Penalties started. */
  penalties: number;
}

/** Strikes count refusals within this sliding window, ms. */
export const STRIKE_WINDOW_MS = 60_000;
/** Each refused attempt during a penalty extends it by this share of its duration... */
export const PENALTY_EXTEND_SHARE = 0.01;
/** ...up to this multiple of its duration in all. */
export const PENALTY_CAP_FACTOR = 2;

interface IpState {
  readonly limits: IpLimits;
  readonly counters: IpCounters;
  /** Open session ids. */
  readonly open: Set<string>;
  /** Accepted MAIL times, oldest first. */
  window: number[];
  /** Refusal times within the strike window, oldest first. */
  strikes: number[];
  penaltyUntil: number;
  penaltyCap: number;
}

function drop(times: number[], after: number): number[] {
  let i = 0;
  while (i < times.length && (times[i] as number) <= after) i++;
  return i === 0 ? times : times.slice(i);
}

/**
 * One provider's hidden limits for every source IP.
 *
 * - `connect` is refused when the IP already has `sessions` sessions open;
 *   an accepted connect opens session `id`.
 * - `mail` is refused during a blackout (outage or rule bug), during a penalty,
 *   or when the sliding window `(now − windowMs, now]` already holds `perWindow`
 *   accepted MAILs; an accepted MAIL enters the window.
 * - Every refusal (connect or MAIL) is a strike. `strikes` strikes within
 *   {@link STRIKE_WINDOW_MS} start a penalty of `durationMs`; each refusal
 *   during it extends it by {@link PENALTY_EXTEND_SHARE} × duration, never past
 *   {@link PENALTY_CAP_FACTOR} × duration after its start. Strikes reset when a
 *   penalty starts.
 */
export class HiddenLimiter {
  private readonly ips = new Map<string, IpState>();

  /** @param t0 - epoch ms that blackout times are measured from */
  constructor(
    readonly spec: LimiterSpec,
    readonly t0: number,
  ) {}

  /** Opens session `id` for `address`, or refuses it (then no session is open for `id`). */
  connect(address: string, now: number, id: string): Refusal | null {
    const ip = this.ip(address);
    ip.counters.connects++;
    if (ip.open.size >= ip.limits.sessions || ip.open.has(id)) {
      ip.counters.connectRefusals++;
      return this.refuse(ip, address, now);
    }
    ip.open.add(id);
    return null;
  }

  /**
   * Ends session `id`. Safe for any id: a refused connect, an unknown or an
   * already closed id changes nothing.
   */
  close(address: string, _now: number, id: string): void {
    this.ips.get(address)?.open.delete(id);
  }

  /** One MAIL attempt from `address`: refused, or accepted and counted in the window. */
  mail(address: string, now: number): Refusal | null {
    const ip = this.ip(address);
    ip.counters.mails++;
    ip.window = drop(ip.window, now - ip.limits.windowMs);
    if (this.blackedOut(address, now) || now < ip.penaltyUntil || ip.window.length >= ip.limits.perWindow) {
      ip.counters.mailRefusals++;
      return this.refuse(ip, address, now);
    }
    ip.window.push(now);
    ip.counters.accepted++;
    return null;
  }

  /** Sessions open now for `address`. */
  openSessions(address: string): number {
    return this.ips.get(address)?.open.size ?? 0;
  }

  /** Counters per address seen so far (live objects; copy to keep). */
  counters(): Map<string, IpCounters> {
    return new Map([...this.ips].map(([address, ip]) => [address, ip.counters]));
  }

  /** True while a penalty refuses every attempt from `address`. */
  penalised(address: string, now: number): boolean {
    return now < (this.ips.get(address)?.penaltyUntil ?? 0);
  }

  private blackedOut(address: string, now: number): boolean {
    const at = now - this.t0;
    return this.spec.blackouts.some(
      (b) => at >= b.startMs && at < b.endMs && (b.address === undefined || b.address === address),
    );
  }

  private refuse(ip: IpState, address: string, now: number): Refusal {
    const penalty = ip.limits.penalty;
    if (penalty !== null) {
      if (now < ip.penaltyUntil) {
        ip.penaltyUntil = Math.min(ip.penaltyCap, ip.penaltyUntil + PENALTY_EXTEND_SHARE * penalty.durationMs);
      } else {
        ip.strikes = drop(ip.strikes, now - STRIKE_WINDOW_MS);
        ip.strikes.push(now);
        if (ip.strikes.length >= penalty.strikes) {
          ip.strikes = [];
          ip.penaltyUntil = now + penalty.durationMs;
          ip.penaltyCap = now + PENALTY_CAP_FACTOR * penalty.durationMs;
          ip.counters.penalties++;
        }
      }
    }
    return { code: this.spec.reply.code, message: this.spec.reply.text.split('{ip}').join(address) };
  }

  private ip(address: string): IpState {
    let ip = this.ips.get(address);
    if (ip === undefined) {
      const limits = this.spec.limits[address] ?? this.spec.unknown;
      const counters = { connects: 0, connectRefusals: 0, mails: 0, mailRefusals: 0, accepted: 0, penalties: 0 };
      ip = { limits, counters, open: new Set(), window: [], strikes: [], penaltyUntil: 0, penaltyCap: 0 };
      this.ips.set(address, ip);
    }
    return ip;
  }
}
