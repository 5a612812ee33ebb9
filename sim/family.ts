/**
 * The scenario family of the end-to-end pacing benchmark: per seed, a few
 * source IPs of mixed age, Microsoft 365 and Google with hidden per-IP limits
 * (see {@link HiddenLimiter}), plain unlimited destinations, sometimes a rule
 * bug or an outage, and a backlog of messages all queued at t = 0.
 * Pure: a scenario is a function of its seed and options.
 */

import { HiddenLimiter, type Blackout, type IpLimits, type LimiterSpec } from './limiter';
import { Prng, subSeed } from './prng';

export type FamilyProviderName = 'microsoft' | 'google' | 'plain';
export type SourceAge = 'new' | 'young' | 'established';

export interface FamilySource {
  /** s1, s2, ... */
  readonly name: string;
  /** 127.0.0.2, 127.0.0.3, ... */
  readonly address: string;
  readonly ageDays: number;
  readonly age: SourceAge;
}

export interface FamilyDomain {
  readonly domain: string;
  /** The MX host name that decides the provider. */
  readonly mxHost: string;
}

export interface FamilyProvider {
  readonly name: FamilyProviderName;
  readonly domains: readonly FamilyDomain[];
  /** Hidden limits; null for plain destinations (no limits). */
  readonly limiter: LimiterSpec | null;
}

export interface FamilyEvent {
  readonly kind: 'rule-bug' | 'outage';
  readonly provider: FamilyProviderName;
  /** The one refused IP of a rule bug. */
  readonly address?: string;
  /** ms since t0, start inclusive, end exclusive */
  readonly startMs: number;
  readonly endMs: number;
}

export interface FamilyMessage {
  readonly id: number;
  /** Message-ID header value, angle brackets included, unique in the scenario. */
  readonly messageId: string;
  readonly rcpt: string;
  readonly domain: string;
  readonly provider: FamilyProviderName;
}

export interface FamilyScenario {
  readonly seed: number;
  readonly sources: readonly FamilySource[];
  readonly providers: readonly FamilyProvider[];
  readonly events: readonly FamilyEvent[];
  readonly messages: readonly FamilyMessage[];
}

/** Messages queued per scenario unless told otherwise. */
export const DEFAULT_MESSAGES = 1000;

const MS_REPLY = {
  code: 451,
  text: '4.7.500 Server busy. Please try again later from [{ip}]. (AS843) [BN8NAM11FT066.eop-nam11.prod.protection.outlook.com]',
};
const GOOGLE_REPLY = {
  code: 421,
  text:
    '4.7.28 [{ip}] Our system has detected an unusual rate of unsolicited mail originating from your IP address. ' +
    'To protect our users from spam, mail sent from your IP address has been temporarily rate limited.',
};
const GOOGLE_MX = ['gmail-smtp-in.l.google.com', 'alt1.gmail-smtp-in.l.google.com', 'aspmx.l.google.com'];
const MIN = 60_000;

function int(r: Prng, lo: number, hi: number): number {
  return Math.floor(r.between(lo, hi + 1));
}

function logUniform(r: Prng, lo: number, hi: number): number {
  return Math.exp(r.between(Math.log(lo), Math.log(hi)));
}

function drawSources(r: Prng): FamilySource[] {
  const n = int(r, 1, 4);
  return Array.from({ length: n }, (_, i) => {
    const age: SourceAge = (['new', 'young', 'established'] as const)[r.weighted([1, 1, 1])] ?? 'established';
    const ageDays = age === 'new' ? int(r, 0, 3) : age === 'young' ? int(r, 7, 30) : int(r, 90, 720);
    return { name: `s${i + 1}`, address: `127.0.0.${i + 2}`, ageDays, age };
  });
}

/** Microsoft's probation: newer IPs get a lower rate. */
function ageFactor(r: Prng, age: SourceAge): number {
  return age === 'new' ? r.between(0.2, 0.5) : age === 'young' ? r.between(0.5, 0.9) : 1;
}

function penalty(r: Prng): IpLimits['penalty'] {
  return { strikes: int(r, 10, 30), durationMs: Math.round(r.between(15, 60) * MIN) };
}

function strictest(limits: readonly IpLimits[]): IpLimits {
  return {
    sessions: Math.min(...limits.map((l) => l.sessions)),
    windowMs: Math.max(...limits.map((l) => l.windowMs)),
    perWindow: Math.min(...limits.map((l) => l.perWindow)),
    penalty: limits.find((l) => l.penalty !== null)?.penalty ?? null,
  };
}

function spec(provider: string, reply: LimiterSpec['reply'], limits: Record<string, IpLimits>): LimiterSpec {
  return { provider, limits, unknown: strictest(Object.values(limits)), blackouts: [], reply };
}

function microsoft(r: Prng, sources: readonly FamilySource[]): FamilyProvider {
  const limits: Record<string, IpLimits> = {};
  for (const s of sources) {
    const windowMs = Math.round(logUniform(r, 3, 300) * 1000);
    const rate = logUniform(r, 0.2, 10) * ageFactor(r, s.age);
    const perWindow = Math.max(1, Math.round((rate * windowMs) / 1000));
    limits[s.address] = { sessions: int(r, 1, 3), windowMs, perWindow, penalty: penalty(r) };
  }
  const domains = Array.from({ length: 20 }, (_, i) => ({
    domain: `tenant${i + 1}.test`,
    mxHost: `tenant${i + 1}-test.mail.protection.outlook.com`,
  }));
  return { name: 'microsoft', domains, limiter: spec('microsoft', MS_REPLY, limits) };
}

function google(r: Prng, sources: readonly FamilySource[]): FamilyProvider {
  const limits: Record<string, IpLimits> = {};
  for (const s of sources) {
    const perWindow = int(r, 30, 300);
    const sessions = int(r, 3, 10);
    limits[s.address] = { sessions, windowMs: MIN, perWindow, penalty: r.next() < 0.5 ? penalty(r) : null };
  }
  const domains = Array.from({ length: 5 }, (_, i) => ({
    domain: `gdom${i + 1}.test`,
    mxHost: GOOGLE_MX[i % GOOGLE_MX.length] as string,
  }));
  return { name: 'google', domains, limiter: spec('google', GOOGLE_REPLY, limits) };
}

function plain(): FamilyProvider {
  const domains = Array.from({ length: 10 }, (_, i) => ({
    domain: `plain${i + 1}.test`,
    mxHost: `mx.plain${i + 1}.test`,
  }));
  return { name: 'plain', domains, limiter: null };
}

function drawEvents(r: Prng, sources: readonly FamilySource[]): FamilyEvent[] {
  const events: FamilyEvent[] = [];
  if (r.next() < 1 / 3) {
    const address = (sources[int(r, 0, sources.length - 1)] as FamilySource).address;
    const startMs = Math.round(r.between(0, 5) * MIN);
    events.push({
      kind: 'rule-bug',
      provider: 'microsoft',
      address,
      startMs,
      endMs: startMs + Math.round(r.between(5, 30) * MIN),
    });
  }
  if (r.next() < 1 / 3) {
    const provider = r.next() < 0.5 ? 'microsoft' : 'google';
    const startMs = Math.round(r.between(1, 5) * MIN);
    events.push({ kind: 'outage', provider, startMs, endMs: startMs + Math.round(r.between(2, 10) * MIN) });
  }
  return events;
}

function withBlackouts(p: FamilyProvider, events: readonly FamilyEvent[]): FamilyProvider {
  if (p.limiter === null) return p;
  const blackouts: Blackout[] = events
    .filter((e) => e.provider === p.name)
    .map((e) =>
      e.address === undefined
        ? { startMs: e.startMs, endMs: e.endMs }
        : { startMs: e.startMs, endMs: e.endMs, address: e.address },
    );
  return { ...p, limiter: { ...p.limiter, blackouts } };
}

function drawMessages(r: Prng, seed: number, n: number, providers: readonly FamilyProvider[]): FamilyMessage[] {
  const counts = [Math.round(0.7 * n), Math.round(0.2 * n)];
  counts.push(n - (counts[0] as number) - (counts[1] as number));
  const out: FamilyMessage[] = [];
  providers.forEach((p, k) => {
    for (let j = 0; j < (counts[k] as number); j++) {
      const d = p.domains[int(r, 0, p.domains.length - 1)] as FamilyDomain;
      const id = out.length + 1;
      out.push({
        id,
        messageId: `<bench-${seed}-${id}@paceline.test>`,
        rcpt: `u${id}@${d.domain}`,
        domain: d.domain,
        provider: p.name,
      });
    }
  });
  return out;
}

/** Draws scenario `seed` of the family (independent streams for sources, limits, events, messages). */
export function drawScenario(seed: number, opts: { messages?: number } = {}): FamilyScenario {
  const sources = drawSources(new Prng(subSeed(seed, 1)));
  const events = drawEvents(new Prng(subSeed(seed, 4)), sources);
  const providers = [
    microsoft(new Prng(subSeed(seed, 2)), sources),
    google(new Prng(subSeed(seed, 3)), sources),
    plain(),
  ].map((p) => withBlackouts(p, events));
  const messages = drawMessages(new Prng(subSeed(seed, 5)), seed, opts.messages ?? DEFAULT_MESSAGES, providers);
  return { seed, sources, providers, events, messages };
}

/** A fresh limiter (own hidden state) for one provider of the scenario; null for plain. */
export function limiterFor(s: FamilyScenario, provider: FamilyProviderName, t0: number): HiddenLimiter | null {
  const spec = s.providers.find((p) => p.name === provider)?.limiter ?? null;
  return spec === null ? null : new HiddenLimiter(spec, t0);
}

/** Windows of `windowMs` that cover the time of `[0, atMs]` when `address` is not blacked out. */
function freeWindows(blackouts: readonly Blackout[], address: string, atMs: number, windowMs: number): number {
  const cuts = blackouts
    .filter((b) => (b.address === undefined || b.address === address) && b.endMs > b.startMs && b.startMs <= atMs)
    .map((b) => [Math.max(0, b.startMs), b.endMs] as const)
    .sort((x, y) => x[0] - y[0]);
  let windows = 0;
  let from = 0;
  for (const [a, b] of cuts) {
    if (a > from) windows += Math.ceil((a - from) / windowMs);
    from = Math.max(from, b);
  }
  if (atMs >= from) windows += Math.floor((atMs - from) / windowMs) + 1;
  return windows;
}

/** Per provider and in all, the most messages a knowing sender could have delivered. */
export interface OracleFigure {
  readonly total: number;
  readonly byProvider: Readonly<Record<FamilyProviderName, number>>;
}

/**
 * The most messages any sender that knew the hidden limits could have had
 * accepted by `atMs` (ms since t0; all messages are offered at t0).
 *
 * Per provider: min(offered, Σ over source IPs of `perWindow × windows`),
 * where `windows` counts the sliding windows (length W = `windowMs`) needed to
 * cover the IP's free time: `[0, atMs]` minus the blackouts (outages, rule
 * bugs) that refuse that IP. A free stretch `[a, b)` that ends at a blackout
 * needs `ceil((b − a) / W)` half-open windows; the last, closed stretch
 * `[a, atMs]` needs `floor((atMs − a) / W) + 1`. The limiter accepts at most
 * `perWindow` MAILs in any half-open interval of length W, so this is an
 * upper bound (without blackouts: `perWindow × (floor(atMs / W) + 1)`). Session limits, penalties
 * and delivery latency are ignored (a knowing sender avoids penalties; the
 * others only lower what is possible). Plain destinations: offered.
 */
export function oracle(s: FamilyScenario, atMs: number): OracleFigure {
  const byProvider: Record<FamilyProviderName, number> = { microsoft: 0, google: 0, plain: 0 };
  for (const p of s.providers) {
    const offered = s.messages.filter((m) => m.provider === p.name).length;
    const spec = p.limiter;
    if (spec === null) {
      byProvider[p.name] = offered;
      continue;
    }
    let cap = 0;
    for (const src of s.sources) {
      const l = spec.limits[src.address] ?? spec.unknown;
      cap += l.perWindow * freeWindows(spec.blackouts, src.address, atMs, l.windowMs);
    }
    byProvider[p.name] = Math.min(offered, cap);
  }
  return { total: byProvider.microsoft + byProvider.google + byProvider.plain, byProvider };
}

function fmtMs(ms: number): string {
  return ms % MIN === 0
    ? `${ms / MIN}min`
    : ms >= MIN
      ? `${(ms / MIN).toFixed(1)}min`
      : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`;
}

/** One line per source, provider × IP and event, for printing beside the figures. */
export function describeScenario(s: FamilyScenario): string[] {
  const lines = [`seed ${s.seed}: ${s.messages.length} messages, ${s.sources.length} source(s)`];
  for (const src of s.sources) lines.push(`  source ${src.name} ${src.address} age ${src.ageDays} d (${src.age})`);
  for (const p of s.providers) {
    const offered = s.messages.filter((m) => m.provider === p.name).length;
    if (p.limiter === null) {
      lines.push(`  ${p.name}: ${offered} messages, ${p.domains.length} domains, no limits`);
      continue;
    }
    lines.push(`  ${p.name}: ${offered} messages, ${p.domains.length} domains`);
    for (const src of s.sources) {
      const l = p.limiter.limits[src.address] ?? p.limiter.unknown;
      const pen =
        l.penalty === null
          ? 'no penalty'
          : `penalty ${l.penalty.strikes} refusals/min → ${fmtMs(l.penalty.durationMs)}`;
      lines.push(
        `    ${src.name}: ${l.perWindow}/${fmtMs(l.windowMs)} (${((l.perWindow * 1000) / l.windowMs).toFixed(2)}/s), ${l.sessions} session(s), ${pen}`,
      );
    }
  }
  for (const e of s.events) {
    const who = e.address === undefined ? 'every IP' : e.address;
    lines.push(`  event ${e.kind} at ${e.provider}, ${who}, ${fmtMs(e.startMs)}–${fmtMs(e.endMs)}`);
  }
  if (s.events.length === 0) lines.push('  no events');
  return lines;
}
