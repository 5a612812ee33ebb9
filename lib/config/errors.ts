/**
 * Configuration problems are collected, never thrown one at a time, so that an
 * operator sees every mistake in one run of `paceline check`.
 */

/** One problem in one config file. */
export interface ConfigIssue {
  /** File name as the operator knows it, e.g. `paceline.yaml`. */
  file: string;
  /** Key path inside the file, e.g. `pools.default.sources[2]`. Empty for the whole file. */
  path: string;
  /** The offending value, rendered for humans (`undefined` when missing). */
  value: unknown;
  /** What was expected instead, e.g. `an IPv4 or IPv6 address`. */
  expected: string;
}

/** Renders a value compactly for an error line; long values are cut. */
export function renderValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** `paceline.yaml: pools.default.sources[2]: got "x", expected a source name` */
export function formatIssue(issue: ConfigIssue): string {
  const where = issue.path ? `${issue.file}: ${issue.path}` : issue.file;
  return `${where}: got ${renderValue(issue.value)}, expected ${issue.expected}`;
}

/** Thrown by loaders when a config cannot be used; carries every issue found. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(`invalid paceline configuration:\n  ${issues.map(formatIssue).join('\n  ')}`);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/** Collects issues for one file while a validator walks it. */
export class IssueList {
  readonly issues: ConfigIssue[] = [];
  constructor(readonly file: string) {}

  add(path: string, value: unknown, expected: string): void {
    this.issues.push({ file: this.file, path, value, expected });
  }

  /** Reports every key of `obj` not in `allowed` as unknown; `shown` renders a value that may be a secret. */
  unknownKeys(path: string, obj: Record<string, unknown>, allowed: readonly string[], shown = (v: unknown) => v): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) {
        this.add(join(path, key), shown(obj[key]), `no such key (allowed: ${allowed.join(', ')})`);
      }
    }
  }
}

/** Joins a key path: join('a', 'b') = 'a.b', join('', 'b') = 'b'. */
export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/** True for a plain object (a YAML mapping), false for arrays, null and scalars. */
export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
