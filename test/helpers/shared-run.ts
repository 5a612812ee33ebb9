/**
 * Several Haraka processes pacing one lane through one Redis: builds their
 * config, submits a backlog to each and measures what the receiver saw.
 */
import { startHaraka, type HarakaProcess } from './haraka';
import type { Receiver } from './receiver';
import { sendMany, type MailSpec } from './client';

export interface SharedSetup {
  /** The [redis] section's lines (url=..., cluster=..., sentinel_name=...). */
  readonly redis: string;
  readonly rate: number;
  /** The rate's period: `rate` per second (default), minute or hour. */
  readonly per?: 's' | 'min' | 'h';
  readonly burst: number;
  /** Worker counts: 0 = one process; N ≥ 2 = Haraka cluster mode. */
  readonly processes: readonly number[];
  /** More [redis] lines. */
  readonly extraIni?: string;
  /** [adapt] lines, e.g. start=1. */
  readonly adaptIni?: string;
}

export function pacelineFiles(receiver: Receiver, s: SharedSetup, prefix: string): Record<string, string> {
  return {
    'config/paceline.yaml': `
sources:
  s2: { address: 127.0.0.2, helo: s2.paceline.test }
providers:
  microsoft365: { limits: { rate: "${s.rate}/${s.per ?? 's'},burst=${s.burst}", concurrency: 50 } }
static_mx:
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${receiver.port} }
`,
    'config/paceline.ini': `[main]\nstore=redis\nlog_decisions=false\n[redis]\n${s.redis}\nprefix=${prefix}\n${s.extraIni ?? ''}${s.adaptIni ? `\n[adapt]\n${s.adaptIni}\n` : ''}`,
    'config/outbound.ini':
      '[main]\ntemp_fail_intervals=5s*60\nenable_tls=false\nlocal_mx_ok=true\nconcurrency_max=200\n',
  };
}

export async function startAll(receiver: Receiver, s: SharedSetup, prefix: string): Promise<HarakaProcess[]> {
  return Promise.all(
    s.processes.map((nodes, i) =>
      startHaraka({
        name: `shared-${i}`,
        plugins: ['test_relay', 'paceline'],
        files: pacelineFiles(receiver, s, prefix),
        ...(nodes ? { nodes } : {}),
      }),
    ),
  );
}

export async function submitBacklog(
  harakas: readonly HarakaProcess[],
  perHost: number,
  tag: string,
): Promise<string[]> {
  const ids: string[] = [];
  await Promise.all(
    harakas.map((h, i) => {
      const msgs: MailSpec[] = Array.from({ length: perHost }, (_, j) => {
        const messageId = `<${tag}-${i}-${j}@paceline.test>`;
        ids.push(messageId);
        return { from: 's@paceline.test', to: [`u${i}x${j}@contoso.test`], messageId };
      });
      return sendMany(h.port, msgs, 10);
    }),
  );
  return ids;
}

/** Largest number of times in any window [t, t + windowMs) starting at one of them. */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && (sorted[j] as number) < (sorted[i] as number) + windowMs) j++;
    best = Math.max(best, j - i);
  }
  return best;
}
