/**
 * Creates the ioredis client the Redis store runs on, from validated
 * settings: one server (URL), a Sentinel-managed master, or a Cluster.
 * Auto-pipelining is on: concurrent decisions share round trips. Every
 * command has a timeout, so an outage makes a decision fail fast (the caller
 * decides what to do) instead of hanging a delivery.
 */

import fs from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { RedisStore } from './redis';
import { parseRedisUrl } from '../config/redis-url';

import type { RedisAddress, RedisConnectionSettings } from '../config/types';
export type { RedisAddress, RedisConnectionSettings };

/** A PEM file's content; the error names the key, not the path (a private key's path is not shown). */
function readPem(file: string, key: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new Error(`paceline: cannot read the file of [redis].${key} (${code})`);
  }
}

function tlsOptions(tls: RedisConnectionSettings['tls']): ConnectionOptions | undefined {
  if (!tls) return undefined;
  if (tls === true) return {};
  return {
    ...(tls.caFile ? { ca: readPem(tls.caFile, 'tls_ca') } : {}),
    ...(tls.certFile ? { cert: readPem(tls.certFile, 'tls_cert') } : {}),
    ...(tls.keyFile ? { key: readPem(tls.keyFile, 'tls_key') } : {}),
    ...(tls.servername ? { servername: tls.servername } : {}),
  };
}

/** Options every connection shares (also each Cluster node's). */
function common(s: RedisConnectionSettings): RedisOptions {
  const tls = tlsOptions(s.tls);
  return {
    ...(s.username !== undefined ? { username: s.username } : {}),
    ...(s.password !== undefined ? { password: s.password } : {}),
    ...(tls ? { tls } : {}),
    commandTimeout: s.commandTimeoutMs,
    connectTimeout: s.connectTimeoutMs ?? 10_000,
    maxRetriesPerRequest: 1,
    // A decision that failed must not be applied later behind the caller's back: never resend.
    autoResendUnfulfilledCommands: false,
    // A master demoted by a failover answers READONLY: reconnect (Sentinel names the new master).
    reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 1 : false),
    connectionName: 'paceline',
  };
}

/**
 * Commands wait for the first connection; after that, a command sent while
 * the connection is down fails at once instead of waiting in ioredis's
 * offline queue, where it would outlive its timeout and take a slot (or a
 * lease) minutes later for a caller that already gave up. The store's caller
 * (FallbackStore) handles the failure.
 */
function failFastOnceReady(client: Redis | Cluster): Redis | Cluster {
  client.once('ready', () => {
    (client.options as { enableOfflineQueue?: boolean }).enableOfflineQueue = false;
  });
  return client;
}

/** A client for the settings (not yet necessarily connected; see `whenReady`). */
export function createRedisClient(s: RedisConnectionSettings): Redis | Cluster {
  return failFastOnceReady(newClient(s));
}

function newClient(s: RedisConnectionSettings): Redis | Cluster {
  const modes = [s.url, s.sentinel, s.cluster].filter((m) => m !== undefined).length;
  if (modes !== 1) throw new Error('paceline: give exactly one of a Redis URL, a Sentinel master or Cluster nodes');
  if (s.cluster) {
    if (s.db) throw new Error('paceline: a Redis Cluster has only database 0');
    return new Cluster(
      s.cluster.map((n) => ({ host: n.host, port: n.port })),
      { redisOptions: common(s), enableAutoPipelining: true, scaleReads: 'master' },
    );
  }
  const options: RedisOptions = {
    ...common(s),
    enableAutoPipelining: true,
    ...(s.db !== undefined ? { db: s.db } : {}),
  };
  if (s.sentinel) {
    const { name, sentinels, username, password } = s.sentinel;
    return new Redis({
      ...options,
      name,
      sentinels: sentinels.map((n) => ({ host: n.host, port: n.port })),
      ...(username !== undefined ? { sentinelUsername: username } : {}),
      ...(password !== undefined ? { sentinelPassword: password } : {}),
      ...(options.tls ? { enableTLSForSentinelMode: true } : {}),
      failoverDetector: true,
    });
  }
  return new Redis({ ...urlOptions(s.url as string), ...options });
}

/** Host, port, login and db from the URL (parsed here: see redis-url.ts); options given beside it override them. */
function urlOptions(url: string): RedisOptions {
  const parsed = parseRedisUrl(url);
  if ('error' in parsed) throw new Error(`paceline: [redis].url: expected ${parsed.error}`);
  const e = parsed.endpoint;
  return {
    host: e.host,
    port: e.port,
    ...(e.username !== undefined ? { username: e.username } : {}),
    ...(e.password !== undefined ? { password: e.password } : {}),
    ...(e.db !== undefined ? { db: e.db } : {}),
    ...(e.tls ? { tls: {} } : {}),
  };
}

/** Resolves when the client is ready; rejects with the last connection error after `timeoutMs`. */
export function whenReady(client: Redis | Cluster, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let last: Error | undefined;
    const onError = (err: Error) => (last = err);
    const done = (err?: Error) => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      if (err) reject(err);
      else resolve();
    };
    const onReady = () => done();
    const timer = setTimeout(
      () => done(new Error(`paceline: Redis not ready after ${timeoutMs} ms${last ? `: ${last.message}` : ''}`)),
      timeoutMs,
    );
    client.on('ready', onReady);
    client.on('error', onError);
  });
}

/**
 * The Redis store, ready to use: creates the client, waits until it is
 * connected (at most `connectTimeoutMs`, default 10 s) and wraps it.
 * `onError` hears connection errors (ioredis retries by itself); log them.
 */
export async function openRedisStore(
  settings: RedisConnectionSettings,
  prefix: string,
  onError?: (err: Error) => void,
): Promise<RedisStore> {
  const client = createRedisClient(settings);
  if (onError) client.on('error', onError);
  try {
    await whenReady(client, settings.connectTimeoutMs ?? 10_000);
  } catch (err) {
    client.disconnect();
    throw err;
  }
  return new RedisStore(client, { prefix });
}
