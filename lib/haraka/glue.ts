/**
 * Haraka-facing glue that is not a hook: building a message from an hmail,
 * turning a decision into an MX list, and the DSN of a message held too long.
 */

import net from 'node:net';
import os from 'node:os';
import { Address4, Address6 } from 'ip-address';
import { ConfigError, formatIssue } from '../config/errors';
import type { HarakaConfigReader } from '../config/load';
import type { Config } from '../config/types';
import type { Decision, Message } from '../engine/decision';
import { delaySeconds } from '../engine/delays';
import type { OutcomeReport } from '../engine/outcomes';
import { logText } from '../core/log-text';
import type { HarakaMxEntry, HMail } from './types';
import { newBootId, type LeaseIdentity } from '../engine/lease-keeper';

/**
 * Most in-process holds in a row before a message goes back to Haraka's queue
 * (a hold keeps Haraka's delivery slot; see lib/haraka/answer.ts). The simulator
 * (sim/mta.ts) imports it to behave as the plugin does.
 */
export const MAX_HOLDS = 3;

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

/** Ranges Haraka's outbound counts as this host's own (haraka-net-utils is_local_ipv4 / is_local_ipv6). */
const LOCAL_V4 = ['0.0.0.0/32', '127.0.0.0/8', '169.254.0.0/16'].map((r) => new Address4(r));
const LOCAL_V6 = ['::/128', '::1/128', 'fe80::/10', 'fc00::/7'].map((r) => new Address6(r));

/**
 * True for an address Haraka 3.3's outbound treats as local (haraka-net-utils
 * is_local_ip): bound on one of this host's interfaces, or in a loopback,
 * link-local or (IPv6) unique-local range. Haraka skips such an MX entry when
 * it carries `from_dns` and outbound.ini has no `local_mx_ok=true`.
 */
export function isLocalAddress(address: string, interfaces = os.networkInterfaces()): boolean {
  for (const list of Object.values(interfaces)) if (list?.some((i) => i.address === address)) return true;
  if (net.isIPv4(address)) return LOCAL_V4.some((r) => new Address4(address).isInSubnet(r));
  if (net.isIPv6(address)) return LOCAL_V6.some((r) => new Address6(address).isInSubnet(r));
  return false;
}

/**
 * The seconds of a DELAY or DENYSOFT answer, as Haraka wants them: a whole
 * number ≥ 1, written as a decimal string. Haraka multiplies it into
 * milliseconds either way, but its hook logger logs `[ERROR] what is N
 * (typeof number)?` for a number.
 */
export function answerSeconds(seconds: number): string {
  return String(Number.isFinite(seconds) ? Math.max(1, Math.ceil(seconds)) : 1);
}

/** The pool a header asked for, when the sender may name it; else why it was ignored (one log line). */
export function headerPool(
  config: Config,
  value: string,
  authenticated: boolean,
): { pool: string } | { ignored: string } {
  const { poolHeader, poolHeaderFrom, defaultPool } = config.settings;
  const who = authenticated ? 'authenticated' : 'unauthenticated';
  const allowed = poolHeaderFrom[who];
  const fallback = `; using the default pool "${defaultPool}"`;
  if (!config.pools.has(value))
    return { ignored: `${poolHeader} names an unknown pool "${logText(value, 64)}"${fallback}` };
  if (allowed !== '*' && !allowed.includes(value)) {
    const key = `[main] pool_header_${who}`;
    return { ignored: `${poolHeader}: pool "${value}" may not be chosen by an ${who} client (${key})${fallback}` };
  }
  return { pool: value };
}

/**
 * The MX list for Haraka's get_mx: addresses of the source's family, bound to
 * the source. An entry is marked as from DNS (`from_dns`, which also gives
 * Haraka the TLS server name) unless it is a static_mx route or an overflow
 * relay at a local address: Haraka would skip that one as a local MX (see
 * {@link isLocalAddress}).
 */
export function mxEntries(decision: Extract<Decision, { action: 'send' }>): HarakaMxEntry[] {
  const { source, hosts } = decision;
  // an overflow relay is the operator's route too; given by name, Haraka resolves it and marks it as from DNS itself
  if (decision.relay) {
    return hosts.map((h) => ({
      exchange: h.host,
      ...(isLocalAddress(h.host) ? {} : { from_dns: h.host }),
      priority: h.priority,
      port: h.port,
    }));
  }
  const entries: HarakaMxEntry[] = [];
  for (const host of hosts) {
    const addresses = source.family === 6 ? host.v6 : source.family === 4 ? host.v4 : [...host.v4, ...host.v6];
    for (const address of addresses) {
      entries.push({
        exchange: address,
        ...(host.configured && isLocalAddress(address) ? {} : { from_dns: host.host }),
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

/**
 * True when an attempt reached no MX host: Haraka tried every entry of the
 * MX list and could not bind or connect (or lost every connection before a
 * reply), and says "Tried all MXs" ("Too many failures (Tried all MXs)" on the
 * last allowed attempt). A failed recipient with a reply means a host answered.
 */
export function unreachedOf(err: unknown, recipients?: readonly FailedRecipient[]): boolean {
  if ((recipients ?? []).some((r) => r?.reason || r?.dsn_smtp_code)) return false;
  const text = err instanceof Error ? err.message : typeof err === 'string' ? err : '';
  return /^(Too many failures \()?Tried all MXs\b/.test(text);
}

/**
 * The log line of an outcome that changed what paceline knows about its
 * source: a failure that reached no MX host (info), the failure that marked
 * it down (warn), its first success after failures (notice). `domain`: the
 * message's, from outside, escaped.
 */
export function sourceHealthLine(
  report: OutcomeReport,
  domain: string,
  now: number,
): { level: 'info' | 'warn' | 'notice'; text: string } | undefined {
  const source = report.lane.source;
  const u = report.unreached;
  if (u?.marked) {
    const until = `${new Date(u.until).toISOString()} (${delaySeconds(u.until, now)}s)`;
    const text = `paceline: source ${source} marked down until ${until} after ${u.failures} attempts in a row reached no MX host: ${u.reason}`;
    return { level: 'warn', text: `${text}; its pools send from their other sources` };
  }
  if (u)
    return {
      level: 'info',
      text: `paceline: source ${source} reached no MX host for ${logText(domain)} (${u.reason}), ${u.failures} in a row`,
    };
  if (report.recovered)
    return { level: 'notice', text: `paceline: source ${source} reached an MX host again; it is back in its pools` };
  return undefined;
}

/** Marks every recipient failed with RFC 3463 X.4.7 "delivery time expired". */
export function markExpired(hmail: HMail, why: string): string {
  const text = `paceline delayed this message longer than max_delay: ${why}`;
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

/** The environment variable that carries a cluster-mode node's boot id from the master to its workers. */
export const BOOT_ENV = 'PACELINE_BOOT_ID';

/**
 * This process's lease identity (lib/core/lease.ts). The node: `[main] node`,
 * else Haraka's `me` and the install dir (`me:dir`), which a restart in the
 * same dir keeps. The boot: new at each start; in cluster mode the master
 * makes it before forking and every worker (a restarted one too) reads it, so
 * a worker never drops the leases of its live siblings.
 */
export function leaseIdentity(
  configured: string,
  me: string,
  dir: string,
  env: NodeJS.ProcessEnv,
  worker: boolean,
): LeaseIdentity {
  const node = configured || `${me || os.hostname()}:${dir}`;
  const inherited = env[BOOT_ENV];
  const boot = worker && inherited && /^[A-Za-z0-9_-]+$/.test(inherited) ? inherited : newBootId();
  return { node, boot };
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
  return (
    a.store !== b.store ||
    JSON.stringify(a.redis ?? null) !== JSON.stringify(b.redis ?? null) ||
    a.memory.maxIdleLanes !== b.memory.maxIdleLanes
  );
}
