/** Validates paceline.ini into Settings. */

import { parseDurationMs } from '../core/duration';
import { zoneOffsetMs } from '../core/day';
import { isMapping, join, type IssueList } from './errors';
import type { PoolList, Settings } from './types';
import { parseRedis, REDIS_DEFAULTS, REDIS_KEYS } from './redis-settings';
import { CONTROL_DEFAULTS, parseControl } from './control-settings';
import { METRICS_DEFAULTS, parseMetrics } from './metrics-settings';

type Kind = 'bool' | 'duration' | 'string' | 'header' | 'name' | 'names' | 'fraction' | 'count' | 'zone';

interface Key {
  readonly kind: Kind;
  readonly fallback: string;
}

/** Every key of paceline.ini, with its type and default (also documented in config/paceline.ini). */
export const INI_KEYS: Readonly<Record<string, Readonly<Record<string, Key>>>> = {
  main: {
    enabled: { kind: 'bool', fallback: 'true' },
    store: { kind: 'string', fallback: 'memory' },
    default_pool: { kind: 'name', fallback: 'default' },
    pool_header: { kind: 'header', fallback: 'X-Paceline-Pool' },
    pool_header_authenticated: { kind: 'names', fallback: '*' },
    pool_header_unauthenticated: { kind: 'names', fallback: '' },
    pool_note: { kind: 'name', fallback: 'paceline_pool' },
    max_delay: { kind: 'duration', fallback: '72h' },
    lease: { kind: 'duration', fallback: '15m' },
    lease_ttl: { kind: 'duration', fallback: '60s' },
    node: { kind: 'string', fallback: '' },
    log_decisions: { kind: 'bool', fallback: 'true' },
    timezone: { kind: 'zone', fallback: 'UTC' },
  },
  sources: {
    down_after: { kind: 'count', fallback: '3' },
    down_for: { kind: 'duration', fallback: '5m' },
  },
  dns: {
    cache_max: { kind: 'duration', fallback: '5m' },
    negative_ttl: { kind: 'duration', fallback: '1m' },
  },
  control: {
    listen: { kind: 'string', fallback: CONTROL_DEFAULTS.listen },
    token: { kind: 'string', fallback: CONTROL_DEFAULTS.token },
  },
  memory: {
    max_idle_lanes: { kind: 'count', fallback: '100000' },
  },
  metrics: {
    listen: { kind: 'string', fallback: METRICS_DEFAULTS.listen },
    token: { kind: 'string', fallback: METRICS_DEFAULTS.token },
  },
  redis: Object.fromEntries(REDIS_KEYS.map((k) => [k, { kind: 'string' as const, fallback: REDIS_DEFAULTS[k] ?? '' }])),
  adapt: {
    enabled: { kind: 'bool', fallback: 'true' },
    accepted_share: { kind: 'fraction', fallback: '0.9' },
    decrease: { kind: 'fraction', fallback: '0.6' },
    floor: { kind: 'fraction', fallback: '0.01' },
    throttle_pause: { kind: 'duration', fallback: '15s' },
    throttle_pause_max: { kind: 'duration', fallback: '5m' },
    start: { kind: 'fraction', fallback: '0.1' },
    start_interval: { kind: 'duration', fallback: '10s' },
    same_event_window: { kind: 'duration', fallback: '10s' },
    recover_step: { kind: 'fraction', fallback: '0.1' },
    recover_interval: { kind: 'duration', fallback: '2m' },
    climb_step: { kind: 'fraction', fallback: '0.05' },
    climb_cost: { kind: 'fraction', fallback: '0.1' },
    connections_duration: { kind: 'duration', fallback: '10m' },
    suspend_duration: { kind: 'duration', fallback: '2h' },
    trial_interval: { kind: 'duration', fallback: '1h' },
    incident_window: { kind: 'duration', fallback: '5m' },
    incident_min_sources: { kind: 'count', fallback: '2' },
    incident_share: { kind: 'fraction', fallback: '0.5' },
    incident_pause: { kind: 'duration', fallback: '5m' },
    incident_probe_interval: { kind: 'duration', fallback: '30s' },
  },
};

/**
 * Keys renamed so that each word has one meaning (issue 10): [section, old key,
 * new key]. An old key is still read, with one warning naming the new key.
 */
export const RENAMED_KEYS: ReadonlyArray<readonly [string, string, string]> = [
  ['main', 'max_hold', 'max_delay'],
  ['adapt', 'hold', 'same_event_window'],
  ['adapt', 'probe_interval', 'trial_interval'],
];

/**
 * The ini with every renamed key under its new name, and one warning per old
 * key found. An old key wins over the new one: the shipped file (which
 * haraka-config merges under the operator's) sets only new names, so an old
 * key can only be the operator's.
 */
export function renameDeprecated(ini: Record<string, unknown>): {
  ini: Record<string, unknown>;
  warnings: string[];
  /** `section.new_key` → the old key the operator wrote, so that an error names what is in the file. */
  givenAs: Record<string, string>;
} {
  const out: Record<string, unknown> = { ...ini };
  const warnings: string[] = [];
  const givenAs: Record<string, string> = {};
  for (const [section, old, key] of RENAMED_KEYS) {
    const sect = out[section];
    if (!isMapping(sect) || sect[old] === undefined) continue;
    const { [old]: value, ...rest } = sect;
    out[section] = { ...rest, [key]: value };
    warnings.push(`paceline.ini: [${section}] ${old} is deprecated: use ${key}`);
    givenAs[`${section}.${key}`] = old;
  }
  return { ini: out, warnings, givenAs };
}

const BOOL = new Map([
  ['true', true],
  ['yes', true],
  ['on', true],
  ['1', true],
  ['false', false],
  ['no', false],
  ['off', false],
  ['0', false],
]);

function read(ini: Record<string, unknown>, section: string, key: string): string | number | boolean {
  const sect = ini[section];
  const spec = INI_KEYS[section]?.[key] as Key;
  const value = isMapping(sect) && sect[key] !== undefined ? sect[key] : spec.fallback;
  return value as string | number | boolean;
}

function parseValue(issues: IssueList, path: string, kind: Kind, value: string | number | boolean): unknown {
  const text = String(value).trim();
  switch (kind) {
    case 'bool': {
      const b = BOOL.get(text.toLowerCase());
      if (b === undefined) issues.add(path, value, 'true or false');
      return b ?? false;
    }
    case 'duration': {
      const ms = parseDurationMs(text);
      if (ms === undefined || ms < 1000) issues.add(path, value, 'a duration of at least 1s, like 90s, 15m, 72h or 3d');
      return ms ?? 0;
    }
    case 'header':
      if (text !== '' && !/^[!-9;-~]+$/.test(text))
        issues.add(path, value, 'a header field name (or empty to disable)');
      return text;
    case 'name':
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(text))
        issues.add(path, value, 'a name of letters, digits, "_", "." or "-"');
      return text;
    case 'names': {
      if (text === '*') return '*';
      const names = text
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== '');
      if (names.some((n) => !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(n))) {
        issues.add(path, value, '"*", or pool names separated by commas, or empty for none');
      }
      return Object.freeze(names);
    }
    case 'fraction': {
      const x = Number(text);
      if (!(x > 0 && x <= 1)) issues.add(path, value, 'a number greater than 0 and at most 1');
      return x;
    }
    case 'count': {
      const n = Number(text);
      if (!Number.isSafeInteger(n) || n < 1) issues.add(path, value, 'a whole number ≥ 1');
      return n;
    }
    case 'zone':
      try {
        zoneOffsetMs(text, 0);
      } catch {
        issues.add(path, value, 'an IANA time zone such as UTC or Europe/Paris');
        return 'UTC';
      }
      return text;
    case 'string':
      return text;
  }
}

/** Validates the parsed ini object (haraka-config's shape: {main: {...}, section: {...}}). */
export function validateSettings(
  issues: IssueList,
  ini: Record<string, unknown>,
  givenAs: Readonly<Record<string, string>> = {},
): Settings {
  // a misspelt section or [redis] key may hold a password: its value is never shown
  issues.unknownKeys('', ini, Object.keys(INI_KEYS), (v) =>
    isMapping(v) ? `a section with ${Object.keys(v).length ? `keys ${Object.keys(v).join(', ')}` : 'no keys'}` : '***',
  );
  const values: Record<string, unknown> = {};
  for (const [section, keys] of Object.entries(INI_KEYS)) {
    const sect = ini[section];
    if (sect !== undefined && !isMapping(sect)) issues.add(`[${section}]`, sect, 'a section');
    if (isMapping(sect))
      issues.unknownKeys(`[${section}]`, sect, Object.keys(keys), section === 'redis' ? () => '***' : undefined);
    for (const [key, spec] of Object.entries(keys)) {
      const old = givenAs[`${section}.${key}`];
      const where = join(`[${section}]`, key) + (old ? ` (set as the deprecated ${old})` : '');
      values[`${section}.${key}`] = parseValue(issues, where, spec.kind, read(ini, section, key));
    }
  }
  const store = values['main.store'];
  if (store !== 'memory' && store !== 'redis') issues.add('[main].store', store, '"memory" or "redis"');
  if ((values['main.lease_ttl'] as number) > (values['main.lease'] as number)) {
    const lease = values['main.lease'] as number;
    issues.add('[main].lease_ttl', values['main.lease_ttl'], `a duration no longer than [main].lease (${lease} ms)`);
  }
  const redisValues = Object.fromEntries(REDIS_KEYS.map((k) => [k, String(values[`redis.${k}`] ?? '')]));
  // [redis] is validated even with store=memory: switching the store must not reveal old mistakes
  const parsedRedis = parseRedis(issues, redisValues, store === 'redis');
  const redis = store === 'redis' ? parsedRedis : undefined;
  const control = parseControl(issues, {
    listen: values['control.listen'] as string,
    token: values['control.token'] as string,
  });
  const metrics = parseMetrics(issues, {
    listen: values['metrics.listen'] as string,
    token: values['metrics.token'] as string,
  });
  return Object.freeze({
    enabled: values['main.enabled'] as boolean,
    control,
    metrics,
    store: store === 'redis' ? 'redis' : 'memory',
    ...(redis ? { redis } : {}),
    defaultPool: values['main.default_pool'] as string,
    poolHeader: values['main.pool_header'] as string,
    poolHeaderFrom: Object.freeze({
      authenticated: values['main.pool_header_authenticated'] as PoolList,
      unauthenticated: values['main.pool_header_unauthenticated'] as PoolList,
    }),
    poolNote: values['main.pool_note'] as string,
    maxDelayMs: values['main.max_delay'] as number,
    leaseMs: values['main.lease'] as number,
    leaseTtlMs: values['main.lease_ttl'] as number,
    node: values['main.node'] as string,
    logDecisions: values['main.log_decisions'] as boolean,
    timezone: values['main.timezone'] as string,
    sourceDownAfter: values['sources.down_after'] as number,
    sourceDownMs: values['sources.down_for'] as number,
    dnsCacheMaxMs: values['dns.cache_max'] as number,
    dnsNegativeMs: values['dns.negative_ttl'] as number,
    memory: Object.freeze({ maxIdleLanes: values['memory.max_idle_lanes'] as number }),
    adapt: Object.freeze({
      enabled: values['adapt.enabled'] as boolean,
      react: Object.freeze({
        acceptedShare: values['adapt.accepted_share'] as number,
        decrease: values['adapt.decrease'] as number,
        floor: values['adapt.floor'] as number,
        throttlePauseMs: values['adapt.throttle_pause'] as number,
        throttlePauseMaxMs: values['adapt.throttle_pause_max'] as number,
        sameEventMs: values['adapt.same_event_window'] as number,
        connectionsMs: values['adapt.connections_duration'] as number,
        suspendMs: values['adapt.suspend_duration'] as number,
        climbCost: values['adapt.climb_cost'] as number,
      }),
      policy: Object.freeze({
        recoverStep: values['adapt.recover_step'] as number,
        recoverIntervalMs: values['adapt.recover_interval'] as number,
        climbStep: values['adapt.climb_step'] as number,
        trialIntervalMs: values['adapt.trial_interval'] as number,
        // a lane whose pace does not adapt has nothing to find: it starts at its configured pace
        start: values['adapt.enabled'] ? (values['adapt.start'] as number) : 1,
        startIntervalMs: values['adapt.start_interval'] as number,
      }),
      incident: Object.freeze({
        windowMs: values['adapt.incident_window'] as number,
        minSources: values['adapt.incident_min_sources'] as number,
        share: values['adapt.incident_share'] as number,
        pauseMs: values['adapt.incident_pause'] as number,
        probeIntervalMs: values['adapt.incident_probe_interval'] as number,
      }),
    }),
  });
}
