/**
 * Builds the one typed, frozen Config from paceline.ini and paceline.yaml,
 * both read through haraka-config (so the package's shipped files are the
 * defaults and the Haraka dir's files override them, as for every plugin).
 */

import fs from 'node:fs';
import path from 'node:path';
import { ProviderMatcher } from '../core/providers';
import { ConfigError, IssueList, type ConfigIssue } from './errors';
import { renameDeprecated, validateSettings } from './settings';
import { iniSyntax, yamlSyntax } from './syntax';
import type { Config } from './types';
import { validateYaml } from './sources-pools';
import { validateWarmup, WARMUP_FILE } from './warmup';
import { packageRoot } from './package-root';
import { parseRules, REPLIES_FILE } from './replies';

export const INI_FILE = 'paceline.ini';
export const YAML_FILE = 'paceline.yaml';

/** Builds a Config from already-parsed files; throws ConfigError listing every problem. */
export function buildConfig(ini: unknown, yamlDoc: unknown, warmupDoc: unknown = {}, repliesDoc: unknown = {}): Config {
  const iniIssues = new IssueList(INI_FILE);
  const yamlIssues = new IssueList(YAML_FILE);
  const warmupIssues = new IssueList(WARMUP_FILE);
  const renamed = renameDeprecated((ini ?? {}) as Record<string, unknown>);
  const settings = validateSettings(iniIssues, renamed.ini, renamed.givenAs);
  const parts = validateYaml(yamlIssues, yamlDoc);
  const schedules = validateWarmup(warmupIssues, warmupDoc, new Set(parts.providers.keys()));
  const repliesIssues = new IssueList(REPLIES_FILE);
  const rules = parseRules(repliesIssues, repliesDoc, new Set(parts.providers.keys()));
  if (!parts.pools.has(settings.defaultPool)) {
    iniIssues.add(
      '[main].default_pool',
      settings.defaultPool,
      `a pool defined in ${YAML_FILE} (pools: ${[...parts.pools.keys()].join(', ')})`,
    );
  }
  for (const [who, list] of Object.entries(settings.poolHeaderFrom)) {
    for (const name of list === '*' ? [] : list.filter((n) => !parts.pools.has(n))) {
      const known = [...parts.pools.keys()].join(', ');
      iniIssues.add(`[main].pool_header_${who}`, name, `a pool defined in ${YAML_FILE} (pools: ${known})`);
    }
  }
  crossCheck(yamlIssues, parts, schedules);
  const issues: ConfigIssue[] = [
    ...iniIssues.issues,
    ...yamlIssues.issues,
    ...warmupIssues.issues,
    ...repliesIssues.issues,
  ];
  if (issues.length > 0) throw new ConfigError(issues);
  const matcher = new ProviderMatcher([...parts.providers.values()].map((p) => ({ name: p.name, mxSuffixes: p.mx })));
  const warnings = Object.freeze(renamed.warnings);
  return Object.freeze({ settings, ...parts, matcher, schedules, rules, warnings });
}

/** References between files and sections: warm-up schedules, overflow pools. */
function crossCheck(
  issues: IssueList,
  parts: ReturnType<typeof validateYaml>,
  schedules: ReadonlyMap<string, unknown>,
): void {
  for (const s of parts.sources.values()) {
    if (s.warmup && !schedules.has(s.warmup.schedule)) {
      issues.add(
        `sources.${s.name}.warmup.schedule`,
        s.warmup.schedule,
        `a schedule in ${WARMUP_FILE} (schedules: ${[...schedules.keys()].join(', ') || 'none'})`,
      );
    }
  }
  for (const p of parts.pools.values()) {
    if (p.overflowPool !== undefined && (p.overflowPool === p.name || !parts.pools.has(p.overflowPool))) {
      issues.add(`pools.${p.name}.overflow_pool`, p.overflowPool, 'another pool defined in pools');
    }
  }
}

/** The subset of haraka-config's Config paceline uses. */
export interface HarakaConfigReader {
  get(name: string, type?: string | (() => void), cb?: () => void): unknown;
  readonly root_path?: string;
  readonly overrides_path?: string;
  /** A reader of `<defaultsPath>/config` alone (haraka-config's Config has it). */
  module_config?(defaultsPath: string): HarakaConfigReader;
}

/**
 * haraka-config logs a file it cannot parse and carries on with the shipped
 * defaults, which would silently replace an operator's pools. So every copy of
 * the files (shipped and override) is checked for syntax here first.
 */
function checkSyntax(reader: HarakaConfigReader): void {
  const issues: ConfigIssue[] = [];
  for (const dir of new Set([reader.root_path, reader.overrides_path])) {
    if (!dir) continue;
    for (const [name, check] of [
      [YAML_FILE, yamlSyntax],
      [WARMUP_FILE, yamlSyntax],
      [REPLIES_FILE, yamlSyntax],
      [INI_FILE, iniSyntax],
    ] as const) {
      const file = path.join(dir, name);
      if (!fs.existsSync(file)) continue;
      issues.push(
        ...check(fs.readFileSync(file, 'utf8')).map((problem) => ({
          file,
          path: problem.where,
          value: problem.text,
          expected: problem.expected,
        })),
      );
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
}

/**
 * One file through the reader. haraka-config keeps serving a deleted
 * override's last content, so a file deleted from the Haraka dir is read as
 * the shipped file alone: a reload judges the files as they are now.
 */
function readFile(reader: HarakaConfigReader, name: string, type: 'ini' | 'yaml', onChange?: () => void): unknown {
  const value = onChange ? reader.get(name, type, onChange) : reader.get(name, type);
  if (!reader.overrides_path || !reader.root_path || !reader.module_config) return value;
  if (fs.existsSync(path.join(reader.overrides_path, name))) return value;
  const shipped = reader.module_config(path.dirname(reader.root_path));
  return onChange ? shipped.get(name, type, onChange) : shipped.get(name, type);
}

/** Reads the files through a haraka-config reader; `onChange` is Haraka's reload callback. */
export function loadConfig(reader: HarakaConfigReader, onChange?: () => void): Config {
  checkSyntax(reader);
  const ini = readFile(reader, INI_FILE, 'ini', onChange);
  const doc = readFile(reader, YAML_FILE, 'yaml', onChange);
  const warmup = readFile(reader, WARMUP_FILE, 'yaml', onChange);
  return buildConfig(ini, doc, warmup, readFile(reader, REPLIES_FILE, 'yaml', onChange));
}

/** The haraka-config reader a Haraka server in `harakaDir` uses (shipped defaults + its config/). */
export function harakaReader(harakaDir: string): HarakaConfigReader {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const harakaConfig = require('haraka-config') as {
    module_config(defaults: string, overrides?: string): HarakaConfigReader;
  };
  return harakaConfig.module_config(packageRoot(), path.resolve(harakaDir));
}

/** Loads the config a Haraka server in `harakaDir` would see (shipped defaults + its config/). */
export function loadConfigFromDir(harakaDir: string): Config {
  return loadConfig(harakaReader(harakaDir));
}
