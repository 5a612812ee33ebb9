/** The [redis] section of paceline.ini: where the shared store is and what to do when it fails. */

import fs from 'node:fs';
import { parseDurationMs } from '../core/duration';
import type { IssueList } from './errors';
import type { OnStoreError, RedisAddress, RedisConnectionSettings } from './types';
import { maskUrl, parseRedisUrl } from './redis-url';

/** Keys of [redis]; all read as strings here and parsed below. */
export const REDIS_KEYS = [
  'url',
  'sentinel_name',
  'sentinels',
  'sentinel_username',
  'sentinel_password',
  'cluster',
  'username',
  'password',
  'db',
  'tls',
  'tls_ca',
  'tls_cert',
  'tls_key',
  'tls_servername',
  'command_timeout',
  'connect_timeout',
  'prefix',
  'on_store_error',
  'cluster_size',
  'retry_after',
] as const;

export const REDIS_DEFAULTS: Readonly<Record<string, string>> = {
  command_timeout: '500ms',
  connect_timeout: '10s',
  prefix: 'paceline',
  on_store_error: 'local',
  cluster_size: '1',
  retry_after: '5s',
  tls: 'false',
};

export interface RedisSettings {
  readonly connection: RedisConnectionSettings;
  readonly prefix: string;
  readonly onStoreError: OnStoreError;
  readonly clusterSize: number;
  readonly retryAfterMs: number;
}

function addresses(issues: IssueList, path: string, text: string): RedisAddress[] {
  const out: RedisAddress[] = [];
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(part);
    const port = m ? Number(m[2]) : 0;
    if (!m || port < 1 || port > 65535) issues.add(path, part, 'host:port (comma-separated)');
    else out.push({ host: (m[1] as string).replace(/^\[|\]$/g, ''), port });
  }
  if (out.length === 0 && text.trim() !== '') issues.add(path, text, 'at least one host:port');
  return out;
}

function readable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.R_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The TLS files must be readable; a client certificate needs its key. The private key's path is not shown. */
function checkTlsFiles(issues: IssueList, v: Readonly<Record<string, string>>): void {
  if (v.tls_ca && !readable(v.tls_ca))
    issues.add('[redis].tls_ca', v.tls_ca, 'a readable PEM file of the CA certificates to trust');
  if (v.tls_cert && !readable(v.tls_cert))
    issues.add('[redis].tls_cert', v.tls_cert, 'a readable PEM file of the client certificate');
  if (v.tls_key && !readable(v.tls_key))
    issues.add('[redis].tls_key', '***', "a readable PEM file of the client certificate's private key");
  if (Boolean(v.tls_cert) !== Boolean(v.tls_key)) {
    issues.add(
      `[redis].${v.tls_cert ? 'tls_key' : 'tls_cert'}`,
      undefined,
      'both tls_cert and tls_key (a client certificate and its key), or neither',
    );
  }
}

function tlsSettings(v: Readonly<Record<string, string>>): NonNullable<RedisConnectionSettings['tls']> {
  if (!v.tls_ca && !v.tls_cert && !v.tls_key && !v.tls_servername) return true;
  return {
    ...(v.tls_ca ? { caFile: v.tls_ca } : {}),
    ...(v.tls_cert ? { certFile: v.tls_cert } : {}),
    ...(v.tls_key ? { keyFile: v.tls_key } : {}),
    ...(v.tls_servername ? { servername: v.tls_servername } : {}),
  };
}

function duration(issues: IssueList, path: string, text: string, minMs: number): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < minMs) issues.add(path, text, `a duration of at least ${minMs} ms, like 500ms or 2s`);
  return ms ?? minMs;
}

/**
 * Validates [redis] (`v` maps key → raw string, defaults applied). With `used`
 * false (store=memory) every key set is checked, but none is required.
 */
export function parseRedis(issues: IssueList, v: Readonly<Record<string, string>>, used = true): RedisSettings {
  const p = (k: string) => `[redis].${k}`;
  const modes = ['url', 'sentinel_name', 'cluster'].filter((k) => (v[k] ?? '') !== '');
  if (modes.length !== 1 && (used || modes.length > 1))
    issues.add('[redis]', modes.join(', ') || 'none', 'exactly one of url, sentinel_name (with sentinels) or cluster');
  const url = v.url ?? '';
  if (url) {
    const parsed = parseRedisUrl(url);
    if ('error' in parsed) issues.add(p('url'), maskUrl(url), parsed.error);
  }
  const sentinels = addresses(issues, p('sentinels'), v.sentinels ?? '');
  if (v.sentinel_name && sentinels.length === 0)
    issues.add(p('sentinels'), v.sentinels ?? '', 'host:port of at least one sentinel');
  const cluster = addresses(issues, p('cluster'), v.cluster ?? '');
  const db = v.db === undefined || v.db === '' ? undefined : Number(v.db);
  if (db !== undefined && (!Number.isInteger(db) || db < 0 || db > 15))
    issues.add(p('db'), v.db, 'a database number 0-15');
  if (db && cluster.length) issues.add(p('db'), v.db, 'nothing (a Redis Cluster has only database 0)');
  const tls = (v.tls ?? 'false').toLowerCase();
  if (!['true', 'false', 'yes', 'no', '1', '0'].includes(tls)) issues.add(p('tls'), v.tls, 'true or false');
  const tlsFiles = Boolean(v.tls_ca || v.tls_cert || v.tls_key);
  const useTls = ['true', 'yes', '1'].includes(tls) || tlsFiles || url.startsWith('rediss://');
  checkTlsFiles(issues, v);
  const policy = v.on_store_error ?? 'local';
  if (!['local', 'delay', 'allow'].includes(policy)) issues.add(p('on_store_error'), policy, 'local, delay or allow');
  const clusterSize = Number(v.cluster_size ?? '1');
  if (!Number.isSafeInteger(clusterSize) || clusterSize < 1)
    issues.add(p('cluster_size'), v.cluster_size, 'the number of Haraka processes sharing the limits (≥ 1)');
  const prefix = v.prefix ?? 'paceline';
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(prefix))
    issues.add(p('prefix'), prefix, 'letters, digits, "_", ".", ":" or "-" (no braces)');
  const commandTimeoutMs = duration(issues, p('command_timeout'), v.command_timeout ?? '500ms', 10);
  if (commandTimeoutMs > 10_000)
    issues.add(p('command_timeout'), v.command_timeout, "at most 10s (well below Haraka's 30 s hook timeout)");
  const connection: RedisConnectionSettings = {
    ...(url ? { url } : {}),
    ...(v.sentinel_name
      ? {
          sentinel: {
            name: v.sentinel_name,
            sentinels,
            ...(v.sentinel_username ? { username: v.sentinel_username } : {}),
            ...(v.sentinel_password ? { password: v.sentinel_password } : {}),
          },
        }
      : {}),
    ...(cluster.length ? { cluster } : {}),
    ...(v.username ? { username: v.username } : {}),
    ...(v.password ? { password: v.password } : {}),
    ...(db !== undefined ? { db } : {}),
    ...(useTls ? { tls: tlsSettings(v) } : {}),
    commandTimeoutMs,
    connectTimeoutMs: duration(issues, p('connect_timeout'), v.connect_timeout ?? '10s', 100),
  };
  return {
    connection,
    prefix: prefix.endsWith(':') ? prefix : `${prefix}:`,
    onStoreError: policy as OnStoreError,
    clusterSize,
    retryAfterMs: duration(issues, p('retry_after'), v.retry_after ?? '5s', 100),
  };
}

/** Where the store is, for logs: never a password. */
export function describeRedis(r: RedisSettings): string {
  const c = r.connection;
  const where = c.url
    ? maskUrl(c.url)
    : c.sentinel
      ? `sentinel master ${c.sentinel.name} via ${c.sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}`
      : `cluster ${(c.cluster ?? []).map((s) => `${s.host}:${s.port}`).join(',')}`;
  return `redis ${where}${c.username ? ` as ${c.username}` : ''}${c.tls ? ' (TLS)' : ''}, prefix ${r.prefix}, on_store_error=${r.onStoreError}`;
}
