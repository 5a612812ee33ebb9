/** Argument helpers shared by the subcommands. */

import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../config/package-root';

/**
 * The Haraka directory a command reads: `--config DIR` or the positional
 * HARAKA_DIR (kept for the older form), never both unless they are the same
 * place; the current directory when neither is given. A string result is an
 * error (also when the directory does not exist).
 */
export function harakaDir(positional: string | undefined, config: string | undefined): { dir: string } | string {
  if (config === '') return '--config needs a directory';
  if (positional !== undefined && config !== undefined && path.resolve(positional) !== path.resolve(config)) {
    return `two Haraka directories given (${positional} and --config ${config}): give one`;
  }
  const dir = path.resolve(config ?? positional ?? '.');
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return `no directory ${dir}`;
  return { dir };
}

/** The package's version, from its package.json. */
export function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}
