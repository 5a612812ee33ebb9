/**
 * Haraka-facing glue that is not a hook: building a message from an hmail,
 * turning a decision into an MX list, and the DSN of a message held too long.
 */

import os from 'node:os';
import { ConfigError, formatIssue } from './config/errors';
import type { HarakaConfigReader } from './config/load';
import type { Config } from './config/types';
import type { Decision, Message } from './engine';
import type { HarakaMxEntry, HMail } from './haraka-types';

/** The engine's view of an outbound message. */
export function messageOf(hmail: HMail, poolNote: string, now: number): Message {
  const todo = hmail.todo;
  const pool = todo.notes?.[poolNote];
  return {
    id: todo.uuid,
    domain: todo.domain,
    queueTime: Number.isFinite(todo.queue_time) ? todo.queue_time : now,
    ...(typeof pool === 'string' && pool !== '' ? { pool } : {}),
  };
}

/** The MX list for Haraka's get_mx: addresses of the source's family, bound to the source. */
export function mxEntries(decision: Extract<Decision, { action: 'send' }>): HarakaMxEntry[] {
  const { source, hosts } = decision;
  if (decision.relay) return hosts.map((h) => ({ exchange: h.host, from_dns: h.host, priority: h.priority, port: h.port }));
  const entries: HarakaMxEntry[] = [];
  for (const host of hosts) {
    const addresses = source.family === 6 ? host.v6 : source.family === 4 ? host.v4 : [...host.v4, ...host.v6];
    for (const address of addresses) {
      entries.push({
        exchange: address,
        from_dns: host.host,
        priority: host.priority,
        port: host.port,
        ...(source.address ? { bind: source.address } : {}),
        ...(source.helo ? { bind_helo: source.helo } : {}),
      });
    }
  }
  return entries;
}

/** A failed recipient as Haraka reports it in deferred/bounce parameters. */
interface FailedRecipient {
  reason?: string;
  dsn_smtp_code?: string | number;
  dsn_smtp_response?: string;
}

/**
 * The remote reply of a failed attempt: a failed recipient's reply (4xx/5xx at
 * RCPT) when there is one, else the error text ("Upstream error: 451 4.7.500 ...").
 */
export function replyOf(err: unknown, recipients?: readonly FailedRecipient[]): string | undefined {
  for (const r of recipients ?? []) {
    if (typeof r?.reason === 'string' && r.reason) return r.reason;
    if (r?.dsn_smtp_code && r.dsn_smtp_response) return `${r.dsn_smtp_code} ${r.dsn_smtp_response}`;
  }
  const text = err instanceof Error ? err.message : typeof err === 'string' ? err : undefined;
  return text || undefined;
}

/** Marks every recipient failed with RFC 3463 X.4.7 "delivery time expired". */
export function markExpired(hmail: HMail, why: string): string {
  const text = `paceline held this message longer than max_hold: ${why}`;
  for (const rcpt of hmail.todo.rcpt_to) {
    rcpt.dsn_code = 550;
    rcpt.dsn_msg = text;
    rcpt.dsn_status = '5.4.7';
    rcpt.dsn_action = 'failed';
  }
  return text;
}

/** Workers Haraka will fork, from smtp.ini `nodes` (unset: one worker; 0: none). */
export function workerCount(reader: HarakaConfigReader): number {
  const smtp = reader.get('smtp.ini', 'ini', () => undefined) as { main?: { nodes?: unknown } };
  const nodes = smtp.main?.nodes;
  if (nodes === undefined || nodes === '') return 1;
  if (nodes === 'cpus') return os.cpus().length;
  return Number(nodes) || 0;
}

/** Why the memory store refuses Haraka cluster mode, and the fix. */
export function memoryInClusterMode(workers: number): string {
  return (
    `paceline: store=memory keeps limits per process, and smtp.ini nodes=${workers} starts ${workers} workers that would each ` +
    'apply the full limits. Use one process (smtp.ini nodes=0 or nodes=1) or the shared Redis store (paceline.ini [main] store=redis).'
  );
}

/** A config in one log line: store, pools, providers. */
export function describeConfig(config: Config): string {
  const pools = [...config.pools.values()].map((p) => `${p.name}=[${p.sources.join(',')}]`).join(' ');
  return `store=${config.settings.store} pools ${pools}, ${config.providers.size} providers`;
}

/** A config error as one log line: every issue, separated by "; ". */
export function oneLine(err: unknown): string {
  return err instanceof ConfigError ? err.issues.map(formatIssue).join('; ') : String((err as Error).message);
}

/** True when a reload changed where the state lives (which needs a restart). */
export function storeChanged(next: Config, running: Config): boolean {
  const a = next.settings;
  const b = running.settings;
  return a.store !== b.store || JSON.stringify(a.redis ?? null) !== JSON.stringify(b.redis ?? null) || a.memory.maxIdleLanes !== b.memory.maxIdleLanes;
}
