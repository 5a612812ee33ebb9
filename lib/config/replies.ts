/**
 * Reads the reply classification rules (config/paceline-replies.yaml) into
 * typed, frozen Rule objects, reporting every mistake with its key path.
 *
 * The file has two lists: `rules` (shipped) and `local_rules` (the
 * operator's). haraka-config merges an operator's copy over the shipped file
 * key by key and replaces lists whole, so an operator who only writes
 * `local_rules` keeps every shipped rule and gets their own tried first.
 */

import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { isCategory, type Category, type Rule } from '../core/classify';
import { parseDurationMs } from '../core/duration';
import { BUILTIN_PROVIDERS } from './builtin-providers';
import { ConfigError, isMapping, IssueList, join } from './errors';
import { packageRoot } from './package-root';
import { yamlSyntax } from './syntax';

export const REPLIES_FILE = 'paceline-replies.yaml';

const TOP_KEYS = ['rules', 'local_rules'];
const RULE_KEYS = ['name', 'provider', 'code', 'enhanced', 'text', 'category', 'duration', 'threshold'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** Categories whose reaction lasts a while ([adapt] in paceline.ini has their defaults). */
const TIMED: readonly Category[] = ['throttle', 'connections', 'suspend'];

/** Compiles one pattern; `text` patterns ignore case, as providers vary it. */
function pattern(issues: IssueList, path: string, raw: unknown, flags: string): RegExp | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw === '') {
    issues.add(path, raw, 'a regular expression as a non-empty string');
    return undefined;
  }
  try {
    return new RegExp(raw, flags);
  } catch (err) {
    issues.add(path, raw, `a valid JavaScript regular expression (${(err as Error).message})`);
    return undefined;
  }
}

/** A provider name or a list of them; returns undefined for a generic rule. */
function providers(issues: IssueList, path: string, raw: unknown, known: ReadonlySet<string>): string[] | undefined {
  if (raw === undefined) return undefined;
  const list = Array.isArray(raw) ? raw : [raw];
  const expected = `a provider name or a list of them (providers: ${[...known].sort().join(', ')})`;
  if (list.length === 0) issues.add(path, raw, expected);
  return list.filter((p, i): p is string => {
    if (typeof p === 'string' && known.has(p)) return true;
    issues.add(Array.isArray(raw) ? join(path, i) : path, p, expected);
    return false;
  });
}

function duration(issues: IssueList, path: string, raw: unknown, category: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const ms = typeof raw === 'string' || typeof raw === 'number' ? parseDurationMs(raw) : undefined;
  if (ms === undefined || ms <= 0) {
    issues.add(path, raw, 'a duration above zero such as "90s", "30m", "2h" or "1h30m"');
    return undefined;
  }
  if (isCategory(category) && !TIMED.includes(category)) {
    issues.add(path, raw, `no duration: only ${TIMED.join(', ')} reactions last a while`);
    return undefined;
  }
  return ms;
}

function threshold(issues: IssueList, path: string, raw: unknown): Rule['threshold'] {
  if (raw === undefined) return undefined;
  if (!isMapping(raw)) {
    issues.add(path, raw, 'a mapping {count, window}, e.g. {count: 2, window: 1h}');
    return undefined;
  }
  issues.unknownKeys(path, raw, ['count', 'window']);
  const count = raw.count;
  const countOk = typeof count === 'number' && Number.isInteger(count) && count >= 1;
  if (!countOk) issues.add(join(path, 'count'), count, 'a whole number of matches ≥ 1');
  const w = raw.window;
  const windowMs = typeof w === 'string' || typeof w === 'number' ? parseDurationMs(w) : undefined;
  if (windowMs === undefined || windowMs <= 0)
    issues.add(join(path, 'window'), w, 'a duration above zero such as "1h"');
  if (!countOk || windowMs === undefined || windowMs <= 0) return undefined;
  return Object.freeze({ count: count as number, windowMs });
}

/** One rule entry; a list of providers gives one Rule per provider. */
function parseRule(issues: IssueList, path: string, raw: unknown, known: ReadonlySet<string>): Rule[] {
  if (!isMapping(raw)) {
    issues.add(path, raw, 'a mapping with name, category and at least one of code, enhanced, text');
    return [];
  }
  const before = issues.issues.length;
  issues.unknownKeys(path, raw, RULE_KEYS);
  const { name, category } = raw;
  if (typeof name !== 'string' || !NAME.test(name))
    issues.add(join(path, 'name'), name, 'a name of letters, digits, "_", "." or "-" (at most 64)');
  if (!isCategory(category))
    issues.add(
      join(path, 'category'),
      category,
      'one of throttle, connections, suspend, blocked, recipient, message, transient, unknown',
    );
  const code = pattern(issues, join(path, 'code'), raw.code, '');
  const enhanced = pattern(issues, join(path, 'enhanced'), raw.enhanced, '');
  const text = pattern(issues, join(path, 'text'), raw.text, 'i');
  if (raw.code === undefined && raw.enhanced === undefined && raw.text === undefined) {
    issues.add(path, raw, 'at least one of code, enhanced, text (a rule without patterns would match every reply)');
  }
  const durationMs = duration(issues, join(path, 'duration'), raw.duration, category);
  const limit = threshold(issues, join(path, 'threshold'), raw.threshold);
  const only = providers(issues, join(path, 'provider'), raw.provider, known);
  if (issues.issues.length > before) return [];
  const base = {
    name: name as string,
    ...(code ? { code } : {}),
    ...(enhanced ? { enhanced } : {}),
    ...(text ? { text } : {}),
    category: category as Category,
    ...(durationMs === undefined ? {} : { durationMs }),
    ...(limit ? { threshold: limit } : {}),
  };
  if (!only) return [Object.freeze(base)];
  return only.map((provider) => Object.freeze({ ...base, provider }));
}

function parseList(
  issues: IssueList,
  key: string,
  raw: unknown,
  known: ReadonlySet<string>,
  names: Map<string, string>,
): Rule[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    issues.add(key, raw, 'a list of rules');
    return [];
  }
  const out: Rule[] = [];
  raw.forEach((entry, i) => {
    const path = join(key, i);
    const name = isMapping(entry) ? entry.name : undefined;
    if (typeof name === 'string') {
      const seen = names.get(name);
      if (seen) issues.add(join(path, 'name'), name, `a name not used before (already used at ${seen})`);
      else names.set(name, path);
    }
    out.push(...parseRule(issues, path, entry, known));
  });
  return out;
}

/**
 * Validates a parsed rules document; every problem goes to `issues`.
 * Returns `local_rules` followed by `rules`, frozen, ready for classify().
 */
export function parseRules(issues: IssueList, doc: unknown, knownProviders: ReadonlySet<string>): Rule[] {
  const root = doc === undefined || doc === null ? {} : doc;
  if (!isMapping(root)) {
    issues.add('', root, 'a YAML mapping with rules and/or local_rules');
    return [];
  }
  issues.unknownKeys('', root, TOP_KEYS);
  const names = new Map<string, string>();
  const local = parseList(issues, 'local_rules', root.local_rules, knownProviders, names);
  const shipped = parseList(issues, 'rules', root.rules, knownProviders, names);
  return Object.freeze([...local, ...shipped]) as Rule[];
}

/** Parses YAML text with line-numbered syntax errors, then validates it. */
export function rulesFromText(file: string, text: string, knownProviders: ReadonlySet<string>): Rule[] {
  const syntax = yamlSyntax(text);
  if (syntax.length > 0)
    throw new ConfigError(syntax.map((p) => ({ file, path: p.where, value: p.text, expected: p.expected })));
  const issues = new IssueList(file);
  const rules = parseRules(issues, parse(text), knownProviders);
  if (issues.issues.length > 0) throw new ConfigError(issues.issues);
  return rules;
}

/** The rules shipped in the package, for the CLI and tests; throws ConfigError. */
export function loadShippedRules(): Rule[] {
  const file = path.join(packageRoot(), 'config', REPLIES_FILE);
  return rulesFromText(file, fs.readFileSync(file, 'utf8'), new Set(Object.keys(BUILTIN_PROVIDERS)));
}
