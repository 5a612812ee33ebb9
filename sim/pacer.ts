/**
 * The pacers the simulated MTA can ask: the real engine (paceline, on the
 * memory store with the simulated clock), or Haraka without paceline, which
 * sends every message at once from the next source in turn and retries on
 * Haraka's own schedule.
 */

import { Engine, type Decision } from '../lib/engine/engine';
import { buildConfig } from '../lib/config/load';
import type { Source } from '../lib/config/types';
import { MxResolver, type DnsLike } from '../lib/engine/mx';
import type { Classifier } from '../lib/engine/outcomes';
import { MemoryStore } from '../lib/store/memory';
import type { Pacer, SimClock } from './mta';

/** Every lookup is static MX with addresses; a DNS query would be a simulator bug. */
const NO_DNS: DnsLike = {
  resolveMx: (d) => Promise.reject(Object.assign(new Error(`no DNS in the simulator: ${d}`), { code: 'ENOTFOUND' })),
  resolve4: () => Promise.resolve([]),
  resolve6: () => Promise.resolve([]),
};

/** A paceline configuration as the plugin would read it: paceline.ini sections and paceline.yaml. */
export interface PacelineConfig {
  readonly ini: Record<string, Record<string, string>>;
  readonly yaml: Record<string, unknown>;
  /** paceline-warmup.yaml and paceline-replies.yaml; absent: none (then pass a classifier). */
  readonly warmup?: unknown;
  readonly replies?: unknown;
}

/**
 * The real engine on a memory store (a fresh one unless given: a trace reads
 * it), reading the simulated clock; `classifier` overrides the config's reply rules.
 */
export function enginePacer(
  cfg: PacelineConfig,
  clock: SimClock,
  classifier?: Classifier,
  store = new MemoryStore(() => clock.now),
): Engine {
  const now = (): number => clock.now;
  const config = buildConfig(cfg.ini, cfg.yaml, cfg.warmup ?? {}, cfg.replies ?? {});
  const mx = new MxResolver(
    { cacheMaxMs: config.settings.dnsCacheMaxMs, negativeMs: config.settings.dnsNegativeMs, staticMx: config.staticMx },
    NO_DNS,
    now,
  );
  return new Engine(config, store, mx, now, classifier);
}

/** A source as the MTA binds it. */
export interface BindSource {
  readonly name: string;
  readonly address: string;
}

/**
 * Haraka without paceline: every message leaves as soon as a delivery slot is
 * free, from the next source in turn (a round-robin bind), and every
 * temporary failure waits for Haraka's temp_fail_intervals.
 */
export function roundRobinPacer(sources: readonly BindSource[], providerOf: (domain: string) => string): Pacer {
  let turn = 0;
  const bound: Source[] = sources.map((s) => ({
    name: s.name,
    address: s.address,
    limits: new Map(),
    poolLimits: new Map(),
  }));
  return {
    decide(msg): Promise<Decision> {
      const source = bound[turn++ % bound.length] as Source;
      return Promise.resolve({
        action: 'send',
        source,
        provider: providerOf(msg.domain),
        hosts: [],
        reason: 'free_slot',
        why: 'no pacing: round robin',
      });
    },
    outcome: () => Promise.resolve(undefined),
  };
}
