/**
 * `paceline check --connect`: connects to the configured Redis as Haraka
 * would (same client, same settings) and checks what a config file cannot
 * show: the server answers, the credentials and TLS work, and Redis will not
 * evict pacing keys under memory pressure.
 */

import type { Cluster, Redis } from 'ioredis';
import { describeRedis, type RedisSettings } from '../config/redis-settings';
import { createRedisClient, whenReady } from '../store/redis-client';
import { redact, secretsOf } from '../config/redis-url';

/** One finding: `error` makes check exit 1, `warning` is printed but passes. */
export interface Finding {
  readonly level: 'ok' | 'warning' | 'error';
  readonly text: string;
}

/** What a maxmemory-policy means for pacing keys (which all carry a TTL). */
export function evictionFinding(where: string, policy: string, maxmemory: number): Finding {
  const limit = maxmemory > 0 ? `maxmemory ${maxmemory} bytes` : 'no maxmemory';
  if (policy === 'noeviction') {
    return { level: 'ok', text: `${where}: maxmemory-policy noeviction (${limit}): pacing keys are never evicted` };
  }
  if (policy.startsWith('volatile-')) {
    return {
      level: 'warning',
      text:
        `${where}: maxmemory-policy ${policy} (${limit}): pacing keys carry a TTL, so Redis may evict them when full ` +
        '(a lane would forget its slots and counts); noeviction is safer',
    };
  }
  return {
    level: 'error',
    text:
      `${where}: maxmemory-policy ${policy || 'unknown'} (${limit}): Redis may evict any pacing key; ` +
      'set maxmemory-policy noeviction',
  };
}

function infoField(text: string, field: string): string {
  return new RegExp(`^${field}:(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
}

async function checkNode(node: Redis, where: string): Promise<Finding[]> {
  const pong = await node.ping();
  const memory = await node.info('memory');
  const server = await node.info('server');
  const version = infoField(server, 'redis_version') || 'version unknown';
  return [
    { level: 'ok', text: `${where}: answers ${pong} (Redis ${version})` },
    evictionFinding(where, infoField(memory, 'maxmemory_policy'), Number(infoField(memory, 'maxmemory')) || 0),
  ];
}

async function checkClient(client: Redis | Cluster): Promise<Finding[]> {
  if (!client.isCluster) return checkNode(client as Redis, 'redis');
  const out: Finding[] = [];
  for (const node of (client as Cluster).nodes('master')) {
    out.push(...(await checkNode(node, `cluster master ${node.options.host}:${node.options.port}`)));
  }
  return out;
}

/** Connects with the settings, checks every (master) node, disconnects. Never throws; never prints a password. */
export async function connectFindings(r: RedisSettings): Promise<Finding[]> {
  const secrets = secretsOf(r.connection);
  const where = describeRedis(r);
  let client: Redis | Cluster | undefined;
  try {
    client = createRedisClient(r.connection);
    client.on('error', () => undefined); // the last error is in whenReady's rejection
    await whenReady(client, r.connection.connectTimeoutMs ?? 10_000);
    const found = await checkClient(client);
    const tls = r.connection.tls ? [{ level: 'ok' as const, text: 'TLS: connected over TLS' }] : [];
    const all: Finding[] = [{ level: 'ok', text: `connected to ${where}` }, ...tls, ...found];
    return all.map((f) => ({ ...f, text: redact(f.text, secrets) }));
  } catch (err) {
    return [{ level: 'error', text: redact(`cannot use ${where}: ${(err as Error).message}`, secrets) }];
  } finally {
    client?.disconnect();
  }
}
