/** `paceline check [HARAKA_DIR] [--connect]`: validate the config a Haraka server would load (and try its store). */

import fs from 'node:fs';
import path from 'node:path';
import { formatDurationMs } from '../core/duration';
import { formatRate } from '../core/rate';
import { ConfigError, formatIssue, type ConfigIssue } from '../config/errors';
import { laneLimits } from '../config/lane-limits';
import { harakaReader, loadConfig } from '../config/load';
import { describeRedis } from '../config/redis-settings';
import type { Config } from '../config/types';
import { bindError } from '../engine/bind-check';
import { memoryInClusterMode, workerCount } from '../haraka/glue';
import { connectFindings } from './connect';
import { harakaDir } from './args';

export interface Output {
  out(line: string): void;
  err(line: string): void;
}

export const CHECK_USAGE = 'usage: paceline check [--config HARAKA_DIR | HARAKA_DIR] [--connect] [--no-bind]';

function summary(config: Config): string[] {
  const r = config.settings.redis;
  const store = r ? describeRedis(r) : config.settings.store;
  const { defaultPool, maxDelayMs } = config.settings;
  const lines = [`store: ${store}; default pool: ${defaultPool}; max_delay: ${formatDurationMs(maxDelayMs)}`];
  for (const pool of config.pools.values()) {
    lines.push(`pool ${pool.name}:`);
    for (const name of pool.sources) {
      const s = config.sources.get(name);
      lines.push(`  source ${name}: ${s?.address ?? '(system default address)'}${s?.helo ? ` helo ${s.helo}` : ''}`);
      for (const provider of config.providers.keys()) {
        const l = laneLimits(config, name, provider);
        const parts = [
          l.rate ? `rate ${formatRate(l.rate)}` : 'rate unlimited',
          `concurrency ${l.concurrency ?? 'unlimited'}`,
          `per_day ${l.perDay ?? 'unlimited'}`,
        ];
        lines.push(`    ${provider}: ${parts.join(', ')}`);
      }
    }
  }
  return lines;
}

/** Sources whose address cannot be bound on this host, as problem lines ("source x: cannot bind ..."). */
async function unbindable(config: Config): Promise<string[]> {
  const sources = [...config.sources.values()].filter((s) => s.address !== undefined);
  const codes = await Promise.all(sources.map((s) => bindError(s.address as string)));
  return sources.flatMap((s, i) =>
    codes[i] ? [`source ${s.name}: address ${s.address} cannot be bound on this host (${codes[i]})`] : [],
  );
}

/** What Haraka refuses at start that the paceline files alone do not show: the memory store in cluster mode. */
function processIssues(config: Config, workers: number): ConfigIssue[] {
  if (config.settings.store !== 'memory' || workers <= 1) return [];
  const expected = `at most 1 with store=memory (${memoryInClusterMode(workers)})`;
  return [{ file: 'smtp.ini', path: '[main].nodes', value: workers, expected }];
}

function invalid(io: Output, dir: string, issues: readonly ConfigIssue[]): number {
  io.err(`paceline config in ${dir} is invalid (${issues.length} problem${issues.length === 1 ? '' : 's'}):`);
  for (const issue of issues) io.err(`  ${formatIssue(issue)}`);
  return 1;
}

/** The Haraka dir from the arguments, or why not (usage errors and missing directories exit 2). */
function parseArgs(args: readonly string[]): { dir: string; connect: boolean; noBind: boolean } | { error: string } {
  let connect = false;
  let noBind = false;
  let configDir: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--connect') connect = true;
    else if (a === '--no-bind') noBind = true;
    else if (a === '--config') configDir = args[++i] ?? '';
    else rest.push(a);
  }
  const bad = rest.find((a) => a.startsWith('-'));
  if (bad !== undefined) return { error: `paceline check: unknown option "${bad}"\n${CHECK_USAGE}` };
  if (rest.length > 1) return { error: `paceline check: one Haraka directory at most\n${CHECK_USAGE}` };
  const where = harakaDir(rest[0], configDir);
  // a directory that does not exist is reported below as not a Haraka directory
  if (typeof where === 'string' && !where.startsWith('no directory'))
    return { error: `paceline check: ${where}\n${CHECK_USAGE}` };
  const dir = typeof where === 'string' ? path.resolve(configDir ?? rest[0] ?? '.') : where.dir;
  if (!fs.existsSync(path.join(dir, 'config')) || !fs.statSync(path.join(dir, 'config')).isDirectory()) {
    return { error: `paceline check: ${dir} is not a Haraka directory (no config/ directory in it)` };
  }
  return { dir, connect, noBind };
}

/**
 * Returns the exit code: 0 valid, 1 invalid (or a source address that cannot
 * be bound here, unless --no-bind, or the store failed --connect), 2
 * unreadable or bad usage.
 */
export async function check(args: readonly string[], io: Output): Promise<number> {
  const parsed = parseArgs(args);
  if ('error' in parsed) {
    io.err(parsed.error);
    return 2;
  }
  const { dir, connect, noBind } = parsed;
  let config: Config;
  try {
    const reader = harakaReader(dir);
    config = loadConfig(reader);
    const issues = processIssues(config, workerCount(reader));
    if (issues.length > 0) return invalid(io, dir, issues);
  } catch (err) {
    if (err instanceof ConfigError) return invalid(io, dir, err.issues);
    io.err(`paceline check: ${(err as Error).message}`);
    return 2;
  }
  const problems = noBind ? [] : await unbindable(config);
  if (problems.length > 0) {
    io.err(
      `paceline config in ${dir} is valid, but ${problems.length} source${problems.length === 1 ? '' : 's'} cannot send from this host:`,
    );
    for (const line of problems) io.err(`  ${line}`);
    return 1;
  }
  io.out(
    `paceline config in ${dir} is valid${noBind ? ' (source addresses not bound: --no-bind)' : '; every source address binds on this host'}`,
  );
  for (const line of config.warnings) io.out(`warning: ${line}`);
  for (const line of summary(config)) io.out(line);
  if (!connect) return 0;
  const r = config.settings.redis;
  if (!r) {
    io.out('connect: store=memory, nothing to connect to');
    return 0;
  }
  const findings = await connectFindings(r);
  for (const f of findings) (f.level === 'error' ? io.err : io.out)(`connect ${f.level}: ${f.text}`);
  return findings.some((f) => f.level === 'error') ? 1 : 0;
}
