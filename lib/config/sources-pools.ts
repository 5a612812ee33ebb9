/** Validates paceline.yaml: sources, pools, providers, default limits, static MX. */

import { Address4, Address6 } from 'ip-address';
import { dateDayNumber } from '../core/day';
import { BUILTIN_PROVIDERS } from './builtin-providers';
import { isMapping, join, IssueList } from './errors';
import { parseLimits, parseLimitsMap } from './limits';
import { IMPLICIT, type LimitsLayer, type Pool, type Provider, type Source, type StaticMx } from './types';

const TOP_KEYS = ['defaults', 'providers', 'sources', 'pools', 'static_mx'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const HOSTNAME =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export interface YamlParts {
  readonly defaults: LimitsLayer;
  readonly providers: ReadonlyMap<string, Provider>;
  readonly sources: ReadonlyMap<string, Source>;
  readonly pools: ReadonlyMap<string, Pool>;
  readonly staticMx: ReadonlyMap<string, readonly StaticMx[]>;
}

/** Returns the IP family of an address literal, or undefined when it is not one. */
export function ipFamily(address: string): 4 | 6 | undefined {
  if (Address4.isValid(address)) return 4;
  if (Address6.isValid(address) && !address.includes('%')) return 6;
  return undefined;
}

function mapping(issues: IssueList, path: string, raw: unknown, what: string): Record<string, unknown> {
  if (raw === undefined || raw === null) return {};
  if (isMapping(raw)) return raw;
  issues.add(path, raw, what);
  return {};
}

function checkName(issues: IssueList, path: string, name: string): boolean {
  if (NAME.test(name)) return true;
  issues.add(path, name, 'a name of letters, digits, "_", "." or "-" (at most 64)');
  return false;
}

function parseProviders(issues: IssueList, raw: unknown): Map<string, Provider> {
  const providers = new Map<string, Provider>();
  const user = mapping(issues, 'providers', raw, 'a mapping of provider name to {mx, limits}');
  const names = new Set([...Object.keys(BUILTIN_PROVIDERS), ...Object.keys(user)]);
  for (const name of names) {
    const path = join('providers', name);
    if (!checkName(issues, path, name)) continue;
    const builtin = Object.hasOwn(BUILTIN_PROVIDERS, name) ? BUILTIN_PROVIDERS[name] : undefined;
    const block = mapping(issues, path, user[name], 'a mapping with mx and/or limits');
    issues.unknownKeys(path, block, ['mx', 'limits']);
    let mx: readonly string[] = builtin?.mx ?? [];
    if (block.mx !== undefined) {
      const list = block.mx;
      if (!Array.isArray(list) || list.length === 0) {
        issues.add(join(path, 'mx'), list, 'a non-empty list of MX host suffixes');
      } else {
        list.forEach((s, i) => {
          if (typeof s !== 'string' || !HOSTNAME.test(s.replace(/^\./, ''))) {
            issues.add(join(join(path, 'mx'), i), s, 'a host name suffix such as "mail.protection.outlook.com"');
          }
        });
        mx = list.filter((s): s is string => typeof s === 'string').map((s) => s.toLowerCase().replace(/^\.|\.$/g, ''));
      }
    } else if (!builtin) {
      issues.add(
        join(path, 'mx'),
        undefined,
        'a list of MX host suffixes (required for a provider paceline does not ship)',
      );
    }
    const shipped = builtin ? parseLimits(new IssueList('builtin'), path, builtin.limits) : {};
    const limits =
      block.limits === undefined ? shipped : { ...shipped, ...parseLimits(issues, join(path, 'limits'), block.limits) };
    providers.set(name, Object.freeze({ name, mx: Object.freeze([...mx]), limits }));
  }
  return providers;
}

function parseSource(
  issues: IssueList,
  name: string,
  raw: unknown,
  providers: ReadonlySet<string>,
): Source | undefined {
  const path = join('sources', name);
  const block = mapping(issues, path, raw, 'a mapping with address, helo and optional limits');
  issues.unknownKeys(path, block, ['address', 'helo', 'limits', 'warmup']);
  const warmup = parseWarmupRef(issues, join(path, 'warmup'), block.warmup);
  const address = block.address;
  const family = typeof address === 'string' ? ipFamily(address) : undefined;
  if (!family)
    issues.add(join(path, 'address'), address, 'an IPv4 or IPv6 address literal (the local address to send from)');
  const helo = block.helo;
  if (helo !== undefined && (typeof helo !== 'string' || !HOSTNAME.test(helo) || !helo.includes('.'))) {
    issues.add(join(path, 'helo'), helo, 'a fully qualified host name for EHLO');
  }
  const limits = parseLimitsMap(issues, join(path, 'limits'), block.limits, providers);
  if (!family) return undefined;
  return Object.freeze({
    name,
    address: address as string,
    family,
    ...(typeof helo === 'string' ? { helo } : {}),
    ...(warmup ? { warmup } : {}),
    limits,
    poolLimits: new Map(),
  });
}

/** `warmup: conservative` or `warmup: { schedule: conservative, start: 2026-12-01 }`. */
function parseWarmupRef(issues: IssueList, path: string, raw: unknown): Source['warmup'] {
  if (raw === undefined) return undefined;
  if (typeof raw === 'string') return { schedule: raw };
  const block = mapping(issues, path, raw, 'a schedule name or {schedule, start}');
  issues.unknownKeys(path, block, ['schedule', 'start']);
  if (typeof block.schedule !== 'string') {
    issues.add(join(path, 'schedule'), block.schedule, 'the name of a schedule in paceline-warmup.yaml');
    return undefined;
  }
  if (block.start === undefined) return { schedule: block.schedule };
  const text = block.start instanceof Date ? block.start.toISOString().slice(0, 10) : String(block.start);
  const start = dateDayNumber(text);
  if (start === undefined) {
    issues.add(join(path, 'start'), block.start, 'a date YYYY-MM-DD (or no start: the first send starts the warm-up)');
    return { schedule: block.schedule };
  }
  return { schedule: block.schedule, start };
}

function parsePool(
  issues: IssueList,
  name: string,
  raw: unknown,
  sources: ReadonlyMap<string, Source>,
  providers: ReadonlySet<string>,
): Pool {
  const path = join('pools', name);
  const block = mapping(issues, path, raw, 'a mapping with sources and optional limits');
  issues.unknownKeys(path, block, ['sources', 'limits', 'overflow', 'overflow_pool', 'overflow_relay']);
  const list = block.sources;
  const names: string[] = [];
  if (!Array.isArray(list) || list.length === 0) {
    issues.add(join(path, 'sources'), list, 'a non-empty list of source names');
  } else {
    list.forEach((s, i) => {
      if (typeof s === 'string' && sources.has(s) && !names.includes(s)) names.push(s);
      else
        issues.add(
          join(join(path, 'sources'), i),
          s,
          `a source name listed once (sources: ${[...sources.keys()].join(', ') || 'none'})`,
        );
    });
  }
  const limits = parseLimitsMap(issues, join(path, 'limits'), block.limits, providers);
  const overflow = block.overflow ?? 'reroute';
  if (overflow !== 'reroute' && overflow !== 'delay')
    issues.add(join(path, 'overflow'), overflow, '"reroute" or "delay"');
  if (block.overflow_pool !== undefined && typeof block.overflow_pool !== 'string')
    issues.add(join(path, 'overflow_pool'), block.overflow_pool, 'a pool name');
  const relay = parseRelay(issues, join(path, 'overflow_relay'), block.overflow_relay);
  return Object.freeze({
    name,
    sources: Object.freeze(names),
    limits,
    overflow: overflow === 'delay' ? 'delay' : 'reroute',
    ...(typeof block.overflow_pool === 'string' ? { overflowPool: block.overflow_pool } : {}),
    ...(relay ? { overflowRelay: relay } : {}),
  });
}

/** `relay.example.net:587` (port 25 when absent). */
function parseRelay(issues: IssueList, path: string, raw: unknown): Pool['overflowRelay'] {
  if (raw === undefined) return undefined;
  const m = typeof raw === 'string' ? /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:.]+\])(?::(\d{1,5}))?$/.exec(raw) : null;
  const port = m?.[2] ? Number(m[2]) : 25;
  if (!m || port < 1 || port > 65535) {
    issues.add(path, raw, 'a relay host[:port], e.g. "relay.example.net:587"');
    return undefined;
  }
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

function parseStaticMx(issues: IssueList, raw: unknown): Map<string, readonly StaticMx[]> {
  const out = new Map<string, readonly StaticMx[]>();
  const block = mapping(issues, 'static_mx', raw, 'a mapping of domain to a list of {host, address, port, priority}');
  for (const [domain, entries] of Object.entries(block)) {
    const path = join('static_mx', domain);
    if (!HOSTNAME.test(domain)) issues.add(path, domain, 'a domain name');
    if (!Array.isArray(entries) || entries.length === 0) {
      issues.add(path, entries, 'a non-empty list of {host, address, port, priority}');
      continue;
    }
    const list: StaticMx[] = [];
    entries.forEach((entry, i) => {
      const p = join(path, i);
      const e = mapping(issues, p, entry, 'a mapping with host and optional address, port, priority');
      issues.unknownKeys(p, e, ['host', 'address', 'port', 'priority']);
      if (typeof e.host !== 'string' || !HOSTNAME.test(e.host)) issues.add(join(p, 'host'), e.host, 'an MX host name');
      if (e.address !== undefined && (typeof e.address !== 'string' || !ipFamily(e.address))) {
        issues.add(join(p, 'address'), e.address, 'an IPv4 or IPv6 address');
      }
      const port = e.port ?? 25;
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535)
        issues.add(join(p, 'port'), e.port, 'a TCP port 1-65535');
      const priority = e.priority ?? i * 10;
      if (typeof priority !== 'number' || !Number.isInteger(priority) || priority < 0)
        issues.add(join(p, 'priority'), e.priority, 'a whole number ≥ 0');
      if (typeof e.host === 'string') {
        list.push(
          Object.freeze({
            host: e.host.toLowerCase(),
            ...(typeof e.address === 'string' ? { address: e.address } : {}),
            port: Number(port),
            priority: Number(priority),
          }),
        );
      }
    });
    out.set(domain.toLowerCase(), Object.freeze(list.sort((a, b) => a.priority - b.priority)));
  }
  return out;
}

/** Without sources: one implicit source (no bind, the system's default address, Haraka's EHLO name). */
function implicitParts(): { sources: Map<string, Source>; pools: Map<string, Pool> } {
  const source: Source = Object.freeze({ name: IMPLICIT, limits: new Map(), poolLimits: new Map() });
  const pool: Pool = Object.freeze({
    name: IMPLICIT,
    sources: [IMPLICIT],
    limits: new Map(),
    overflow: 'reroute' as const,
  });
  return { sources: new Map([[IMPLICIT, source]]), pools: new Map([[IMPLICIT, pool]]) };
}

/** Sources shared by pools must see the same pool limits, or their lane would have two limits. */
function checkSharedSources(issues: IssueList, pools: ReadonlyMap<string, Pool>): void {
  const seen = new Map<string, Pool>();
  for (const pool of pools.values()) {
    for (const s of pool.sources) {
      const other = seen.get(s);
      if (!other) seen.set(s, pool);
      else if (JSON.stringify([...other.limits]) !== JSON.stringify([...pool.limits])) {
        issues.add(
          join(join('pools', pool.name), 'limits'),
          [...pool.limits.keys()],
          `the same limits as pool "${other.name}", which shares source "${s}" (or set the limits on the source)`,
        );
      }
    }
  }
}

/** Each source with the limits of its pools (checkSharedSources made them one set per source). */
function foldPoolLimits(sources: Map<string, Source>, pools: ReadonlyMap<string, Pool>): void {
  for (const pool of pools.values()) {
    if (pool.limits.size === 0) continue;
    for (const name of pool.sources) {
      const s = sources.get(name);
      if (s && s.poolLimits.size === 0) sources.set(name, Object.freeze({ ...s, poolLimits: pool.limits }));
    }
  }
}

/** Validates the parsed YAML document; every problem goes to `issues`. */
export function validateYaml(issues: IssueList, doc: unknown): YamlParts {
  const root = mapping(issues, '', doc ?? {}, 'a YAML mapping at the top level');
  issues.unknownKeys('', root, TOP_KEYS);
  const providers = parseProviders(issues, root.providers);
  const providerNames = new Set(providers.keys());
  const defaultsBlock = mapping(issues, 'defaults', root.defaults, 'a mapping with limits');
  issues.unknownKeys('defaults', defaultsBlock, ['limits']);
  const defaults = parseLimits(issues, 'defaults.limits', defaultsBlock.limits);

  const sources = new Map<string, Source>();
  for (const [name, raw] of Object.entries(
    mapping(issues, 'sources', root.sources, 'a mapping of source name to {address, helo}'),
  )) {
    if (!checkName(issues, join('sources', name), name)) continue;
    const source = parseSource(issues, name, raw, providerNames);
    if (source) sources.set(name, source);
  }
  const pools = new Map<string, Pool>();
  for (const [name, raw] of Object.entries(
    mapping(issues, 'pools', root.pools, 'a mapping of pool name to {sources}'),
  )) {
    if (checkName(issues, join('pools', name), name))
      pools.set(name, parsePool(issues, name, raw, sources, providerNames));
  }
  checkSharedSources(issues, pools);
  foldPoolLimits(sources, pools);
  const staticMx = parseStaticMx(issues, root.static_mx);
  if (sources.size === 0 && pools.size === 0) return { defaults, providers, staticMx, ...implicitParts() };
  if (pools.size === 0) {
    pools.set(
      IMPLICIT,
      Object.freeze({
        name: IMPLICIT,
        sources: Object.freeze([...sources.keys()]),
        limits: new Map(),
        overflow: 'reroute' as const,
      }),
    );
  }
  return { defaults, providers, sources, pools, staticMx };
}
