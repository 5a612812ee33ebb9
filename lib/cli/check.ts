/** `paceline check [HARAKA_DIR]`: validate the config a Haraka server would load. */

import path from 'node:path';
import { formatDurationMs } from '../core/duration';
import { formatRate } from '../core/rate';
import { ConfigError, formatIssue } from '../config/errors';
import { laneLimits } from '../config/lane-limits';
import { loadConfigFromDir } from '../config/load';
import type { Config } from '../config/types';

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

function summary(config: Config): string[] {
  const lines = [`store: ${config.settings.store}; default pool: ${config.settings.defaultPool}; max_hold: ${formatDurationMs(config.settings.maxHoldMs)}`];
  for (const pool of config.pools.values()) {
    lines.push(`pool ${pool.name}:`);
    for (const name of pool.sources) {
      const s = config.sources.get(name);
      lines.push(`  source ${name}: ${s?.address ?? '(system default address)'}${s?.helo ? ` helo ${s.helo}` : ''}`);
      for (const provider of config.providers.keys()) {
        const l = laneLimits(config, name, provider);
        const parts = [l.rate ? `rate ${formatRate(l.rate)}` : 'rate unlimited', `concurrency ${l.concurrency ?? 'unlimited'}`, `per_day ${l.perDay ?? 'unlimited'}`];
        lines.push(`    ${provider}: ${parts.join(', ')}`);
      }
    }
  }
  return lines;
}

/** Returns the exit code: 0 valid, 1 invalid, 2 unreadable. */
export function check(args: readonly string[], io: Output): number {
  const dir = path.resolve(args[0] ?? '.');
  try {
    const config = loadConfigFromDir(dir);
    io.out(`paceline config in ${dir} is valid`);
    for (const line of summary(config)) io.out(line);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`paceline config in ${dir} is invalid (${err.issues.length} problem${err.issues.length === 1 ? '' : 's'}):`);
      for (const issue of err.issues) io.err(`  ${formatIssue(issue)}`);
      return 1;
    }
    io.err(`paceline check: ${(err as Error).message}`);
    return 2;
  }
}
