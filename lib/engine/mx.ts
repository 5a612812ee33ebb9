/**
 * MX lookup for pacing: which hosts (and addresses, per IP family) serve a
 * domain. Answers are cached for the shortest TTL of the hosts' address
 * records, capped by `[dns] cache_max` (Node's resolver does not expose MX
 * record TTLs); failures are cached for `[dns] negative_ttl`. Concurrent
 * lookups of one domain share one query.
 */

import { promises as dnsPromises } from 'node:dns';
import { domainToASCII } from 'node:url';
import type { StaticMx } from '../config/types';

/** One MX host with its addresses. */
export interface MxHost {
  readonly host: string;
  readonly priority: number;
  readonly port: number;
  readonly v4: readonly string[];
  readonly v6: readonly string[];
  /** From `static_mx` (the operator's route), not from a DNS MX record. */
  readonly configured?: true;
}

export type MxAnswer =
  { readonly ok: true; readonly hosts: readonly MxHost[] } | { readonly ok: false; readonly error: string };

/** The DNS calls used; tests and the CLI may pass another resolver. */
export interface DnsLike {
  resolveMx(domain: string): Promise<Array<{ exchange: string; priority: number }>>;
  resolve4(host: string, opts: { ttl: true }): Promise<Array<{ address: string; ttl: number }>>;
  resolve6(host: string, opts: { ttl: true }): Promise<Array<{ address: string; ttl: number }>>;
}

export interface MxOptions {
  readonly cacheMaxMs: number;
  readonly negativeMs: number;
  readonly staticMx: ReadonlyMap<string, readonly StaticMx[]>;
}

const MAX_ENTRIES = 50_000;

export class MxResolver {
  private readonly cache = new Map<string, { answer: MxAnswer; expiresAt: number }>();
  private readonly inflight = new Map<string, Promise<MxAnswer>>();

  constructor(
    private options: MxOptions,
    private readonly dns: DnsLike = new dnsPromises.Resolver(),
    private readonly clock: () => number = Date.now,
  ) {}

  /** New options (config reload) also drop cached answers, which may come from old static MX. */
  reconfigure(options: MxOptions): void {
    this.options = options;
    this.cache.clear();
  }

  async resolve(rawDomain: string): Promise<MxAnswer> {
    const lower = rawDomain.toLowerCase();
    // ASCII domains (nearly all) skip the IDN conversion
    const domain = (/^[\x21-\x7e]*$/.test(lower) ? lower : domainToASCII(lower) || lower).replace(/\.$/, '');
    const cached = this.cache.get(domain);
    if (cached && cached.expiresAt > this.clock()) return cached.answer;
    let pending = this.inflight.get(domain);
    if (!pending) {
      pending = this.lookup(domain).finally(() => this.inflight.delete(domain));
      this.inflight.set(domain, pending);
    }
    return pending;
  }

  private remember(domain: string, answer: MxAnswer, ttlMs: number): MxAnswer {
    if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(domain, { answer, expiresAt: this.clock() + ttlMs });
    return answer;
  }

  private async lookup(domain: string): Promise<MxAnswer> {
    try {
      const fixed = this.options.staticMx.get(domain);
      const exchanges = fixed ?? (await this.mxRecords(domain));
      if (exchanges.length === 0)
        return this.remember(domain, { ok: false, error: 'null MX' }, this.options.negativeMs);
      const resolved = await Promise.all(exchanges.map((e) => this.addresses(e)));
      const found = resolved.map((r) => r.host).filter((h) => h.v4.length + h.v6.length > 0);
      const hosts = fixed ? found.map((h): MxHost => ({ ...h, configured: true })) : found;
      if (hosts.length === 0)
        return this.remember(domain, { ok: false, error: 'no address for any MX host' }, this.options.negativeMs);
      const ttl = Math.min(this.options.cacheMaxMs, ...resolved.map((r) => r.ttlMs));
      return this.remember(domain, { ok: true, hosts }, Math.max(1000, ttl));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      return this.remember(domain, { ok: false, error: String(code) }, this.options.negativeMs);
    }
  }

  /** MX records in preference order; a domain without MX is its own MX (RFC 5321 §5.1). */
  private async mxRecords(domain: string): Promise<StaticMx[]> {
    let records: Array<{ exchange: string; priority: number }>;
    try {
      records = await this.dns.resolveMx(domain);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENODATA') throw err;
      records = [];
    }
    if (records.length === 0) return [{ host: domain, priority: 0, port: 25 }];
    if (records.length === 1 && records[0]?.exchange === '') return [];
    return records
      .filter((r) => r.exchange !== '')
      .sort((a, b) => a.priority - b.priority)
      .map((r) => ({ host: r.exchange.toLowerCase().replace(/\.$/, ''), priority: r.priority, port: 25 }));
  }

  private async addresses(mx: StaticMx): Promise<{ host: MxHost; ttlMs: number }> {
    if (mx.address) {
      const v6 = mx.address.includes(':');
      return {
        host: {
          host: mx.host,
          priority: mx.priority,
          port: mx.port,
          v4: v6 ? [] : [mx.address],
          v6: v6 ? [mx.address] : [],
        },
        ttlMs: this.options.cacheMaxMs,
      };
    }
    const [a, aaaa] = await Promise.allSettled([
      this.dns.resolve4(mx.host, { ttl: true }),
      this.dns.resolve6(mx.host, { ttl: true }),
    ]);
    const v4 = a.status === 'fulfilled' ? a.value : [];
    const v6 = aaaa.status === 'fulfilled' ? aaaa.value : [];
    const ttls = [...v4, ...v6].map((r) => r.ttl * 1000);
    return {
      host: {
        host: mx.host,
        priority: mx.priority,
        port: mx.port,
        v4: v4.map((r) => r.address),
        v6: v6.map((r) => r.address),
      },
      ttlMs: ttls.length ? Math.min(...ttls) : this.options.negativeMs,
    };
  }
}
