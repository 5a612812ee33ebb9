/** `paceline check [HARAKA_DIR]`: validate the config a Haraka server would load. */

import { formatDurationMs } from '../core/duration';
import { formatRate } from '../core/rate';
import { ConfigError, formatIssue } from '../config/errors';
import { laneLimits } from '../config/lane-limits';
import { loadConfigFromDir } from '../config/load';
import type { Config } from '../config/types';
import { bindError } from '../engine/bind-check';
import { harakaDir } from './args';

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

export const CHECK_USAGE = 'usage: paceline check [--config HARAKA_DIR | HARAKA_DIR] [--no-bind]';

/** Sources whose address cannot be bound on this host, as problem lines ("source x: cannot bind ..."). */
async function unbindable(config: Config): Promise<string[]> {
  const sources = [...config.sources.values()].filter((s) => s.address !== undefined);
  const codes = await Promise.all(sources.map((s) => bindError(s.address as string)));
  return sources.flatMap((s, i) => (codes[i] ? [`source ${s.name}: address ${s.address} cannot be bound on this host (${codes[i]})`] : []));
}

/**
 * Returns the exit code: 0 valid, 1 invalid (or a source address that cannot
 * be bound here, unless --no-bind), 2 unreadable or bad arguments.
 */
export async function check(args: readonly string[], io: Output): Promise<number> {
  let noBind = false;
  let config: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--no-bind') noBind = true;
    else if (a === '--config') config = args[++i] ?? '';
    else rest.push(a);
  }
  const where = rest.some((a) => a.startsWith('-')) || rest.length > 1 ? 'unknown option or extra argument' : harakaDir(rest[0], config);
  if (typeof where === 'string') {
    io.err(`paceline check: ${where}\n${CHECK_USAGE}`);
    return 2;
  }
  const { dir } = where;
  try {
    const config = loadConfigFromDir(dir);
    const problems = noBind ? [] : await unbindable(config);
    if (problems.length > 0) {
      io.err(`paceline config in ${dir} is valid, but ${problems.length} source${problems.length === 1 ? '' : 's'} cannot send from this host:`);
      for (const line of problems) io.err(`  ${line}`);
      return 1;
    }
    io.out(`paceline config in ${dir} is valid${noBind ? ' (source addresses not bound: --no-bind)' : '; every source address binds on this host'}`);
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
