/**
 * Deliveries as SMTP sessions against hidden per-IP limiters (sim/limiter.ts),
 * timed like Haraka talking to a receiver on loopback:
 *
 * - connect at the decision: the limiter may refuse the session; the refusal
 *   (a 4xx greeting) reaches Haraka one round trip later and the attempt ends;
 * - otherwise MAIL goes out after the greeting and EHLO (three round trips
 *   after connect); the limiter may refuse it; Haraka sends QUIT and the
 *   session closes when the refusal arrives;
 * - otherwise the message is accepted and the session stays open until the
 *   delivery ends, 20–80 ms after connect (Haraka reuses no connection).
 *
 * A destination without a limiter (plain domains) accepts everything.
 */

import type { Refusal } from './limiter';
import type { Ending, Wire } from './mta';
import { Prng } from './prng';
import type { SimMessage } from './scenario';

/** A limiter as the wire drives it (sim/limiter.ts HiddenLimiter). */
export interface SessionLimiter {
  connect(address: string, now: number, id: string): Refusal | null;
  mail(address: string, now: number): Refusal | null;
  close(address: string, now: number, id: string): void;
}

/** Counts every connect and MAIL the wire makes (refusals are the MTA's deferrals). */
export interface SessionCounter {
  connect(msg: SimMessage, refused: boolean): void;
  mail(msg: SimMessage, refused: boolean): void;
}

/** Loopback timing of one session, whole ms (the engine and the stores count whole ms). */
export const TIMING = { rttMs: [1, 3], sessionMs: [20, 80] } as const;

/** Haraka's reply regex (outbound/hmail.js): it takes only one-digit enhanced codes. */
const SMTP_LINE = /^([2345]\d\d)([ -])#?(?:(\d\.\d\.\d)\s)?(.*)/;

/**
 * The error text Haraka hands the deferred hook for a whole-transaction 4xx
 * (greeting or MAIL): `Upstream error: 451 4.7.500 Server busy...`. Lines of a
 * multi-line reply are joined with spaces, their codes dropped.
 */
export function upstreamError(code: number, message: string): string {
  const lines = message.split(/\r?\n/).map((text, i, all) => `${code}${i < all.length - 1 ? '-' : ' '}${text}`);
  const parts = lines.map((l) => SMTP_LINE.exec(l));
  const last = parts[parts.length - 1];
  const extc = last?.[3];
  return `Upstream error: ${code} ${extc ? `${extc} ` : ''}${parts.map((m) => m?.[4] ?? '').join(' ')}`;
}

function refused(r: Refusal): Ending {
  return { accepted: false, reply: upstreamError(r.code, r.message) };
}

/** The session wire: `limiters` by provider name (null: no limits), `addressOf` maps a source name to its IP. */
export function sessionWire(
  limiters: ReadonlyMap<string, SessionLimiter | null>,
  addressOf: (source: string) => string,
  seed: number,
  counter: SessionCounter,
): Wire {
  const rng = new Prng(seed);
  let sessions = 0;
  return {
    start(msg, d, now, schedule) {
      const limiter = limiters.get(msg.provider);
      if (limiter === undefined) return false;
      const rtt = Math.round(rng.between(TIMING.rttMs[0], TIMING.rttMs[1]));
      const endAt = now + Math.round(rng.between(TIMING.sessionMs[0], TIMING.sessionMs[1]));
      if (limiter === null) {
        schedule(endAt, () => ({ accepted: true }));
        return true;
      }
      const address = addressOf(d.source.name);
      const id = `c${++sessions}`;
      const atConnect = limiter.connect(address, now, id);
      counter.connect(msg, atConnect !== null);
      if (atConnect) {
        schedule(now + rtt, () => refused(atConnect));
        return true;
      }
      schedule(now + 3 * rtt, () => {
        const atMail = limiter.mail(address, now + 3 * rtt);
        counter.mail(msg, atMail !== null);
        const closeAt = atMail ? now + 4 * rtt : endAt;
        schedule(closeAt, () => {
          limiter.close(address, closeAt, id);
          return atMail ? refused(atMail) : { accepted: true };
        });
        return undefined;
      });
      return true;
    },
  };
}
