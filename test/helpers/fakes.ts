/**
 * Plain fakes for unit tests: a clock, a DNS with fixed answers, and an
 * Engine on the memory store wired to both. No network, no timers.
 */

import { buildConfig } from '../../lib/config/load';
import type { Config } from '../../lib/config/types';
import { Engine } from '../../lib/engine/engine';
import { MxResolver, type DnsLike } from '../../lib/engine/mx';
import { MemoryStore } from '../../lib/store/memory';
import type { Classifier } from '../../lib/engine/outcomes';

export class FakeClock {
  constructor(public t = Date.UTC(2026, 10, 26, 1, 0, 0)) {}
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

/** A DNS whose answers are a table: domain → MX hosts, host → addresses. */
export function fakeDns(
  mx: Record<string, string[]>,
  addresses: Record<string, string[]>,
): DnsLike & { queries: number } {
  const notFound = (name: string) => Object.assign(new Error(`queryX ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  const dns = {
    queries: 0,
    async resolveMx(domain: string) {
      dns.queries += 1;
      const hosts = mx[domain];
      if (!hosts) throw notFound(domain);
      return hosts.map((exchange, i) => ({ exchange, priority: i * 10 }));
    },
    async resolve4(host: string) {
      return (addresses[host] ?? []).filter((a) => !a.includes(':')).map((address) => ({ address, ttl: 300 }));
    },
    async resolve6(host: string) {
      return (addresses[host] ?? []).filter((a) => a.includes(':')).map((address) => ({ address, ttl: 300 }));
    },
  };
  return dns;
}

export const DNS_TABLE = {
  mx: {
    'contoso.test': ['contoso-test.mail.protection.outlook.com'],
    'fabrikam.test': ['fabrikam-test.mail.protection.outlook.com'],
    'gmail.test': ['gmail-smtp-in.l.google.com'],
    'small.test': ['mx.small.test'],
    'v6only.test': ['mx.v6only.test'],
  },
  addresses: {
    'contoso-test.mail.protection.outlook.com': ['192.0.2.10', '2001:db8::10'],
    'fabrikam-test.mail.protection.outlook.com': ['192.0.2.11'],
    'gmail-smtp-in.l.google.com': ['192.0.2.20'],
    'mx.small.test': ['192.0.2.30'],
    'mx.v6only.test': ['2001:db8::30'],
  },
};

export interface Rig {
  engine: Engine;
  store: MemoryStore;
  clock: FakeClock;
  config: Config;
  dns: ReturnType<typeof fakeDns>;
}

/** An engine on the memory store with a fake clock and the DNS table above. */
/**
 * An engine on the memory store with a fake clock and DNS. Its lanes begin at
 * their configured pace ([adapt] start=1) unless `ini` sets `adapt.start`:
 * most engine tests are about pacing at a given pace; the start phase has
 * tests of its own (test/unit/start.test.ts, test/unit/engine-start.test.ts).
 */
export function rig(yaml: unknown, ini: Record<string, Record<string, unknown>> = {}, classifier?: Classifier): Rig {
  const clock = new FakeClock();
  const config = buildConfig({ ...ini, adapt: { start: '1', ...ini.adapt } }, yaml);
  const store = new MemoryStore(clock.now);
  const dns = fakeDns(DNS_TABLE.mx, DNS_TABLE.addresses);
  const mx = new MxResolver(
    { cacheMaxMs: config.settings.dnsCacheMaxMs, negativeMs: config.settings.dnsNegativeMs, staticMx: config.staticMx },
    dns,
    clock.now,
  );
  return { engine: new Engine(config, store, mx, clock.now, classifier), store, clock, config, dns };
}
