/**
 * Builds the one typed, frozen Config from paceline.ini and paceline.yaml,
 * both read through haraka-config (so the package's shipped files are the
 * defaults and the Haraka dir's files override them, as for every plugin).
 */

import fs from 'node:fs';
import path from 'node:path';
import { ProviderMatcher } from '../core/providers';
import { ConfigError, IssueList, type ConfigIssue } from './errors';
import { validateSettings } from './settings';
import { iniSyntax, yamlSyntax } from './syntax';
import type { Config } from './types';
import { validateYaml } from './validate-yaml';

export const INI_FILE = 'paceline.ini';
export const YAML_FILE = 'paceline.yaml';

/** Builds a Config from already-parsed files; throws ConfigError listing every problem. */
export function buildConfig(ini: unknown, yamlDoc: unknown): Config {
  const iniIssues = new IssueList(INI_FILE);
  const yamlIssues = new IssueList(YAML_FILE);
  const settings = validateSettings(iniIssues, (ini ?? {}) as Record<string, unknown>);
  const parts = validateYaml(yamlIssues, yamlDoc);
  if (!parts.pools.has(settings.defaultPool)) {
    iniIssues.add('[main].default_pool', settings.defaultPool, `a pool defined in ${YAML_FILE} (pools: ${[...parts.pools.keys()].join(', ')})`);
  }
  const issues: ConfigIssue[] = [...iniIssues.issues, ...yamlIssues.issues];
  if (issues.length > 0) throw new ConfigError(issues);
  const matcher = new ProviderMatcher([...parts.providers.values()].map((p) => ({ name: p.name, mxSuffixes: p.mx })));
  return Object.freeze({ settings, ...parts, matcher });
}

/** The subset of haraka-config's Config paceline uses. */
export interface HarakaConfigReader {
  get(name: string, type?: string | (() => void), cb?: () => void): unknown;
  readonly root_path?: string;
  readonly overrides_path?: string;
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
    for (const [name, check] of [[YAML_FILE, yamlSyntax], [INI_FILE, iniSyntax]] as const) {
      const file = path.join(dir, name);
      if (!fs.existsSync(file)) continue;
      issues.push(...check(fs.readFileSync(file, 'utf8')).map((problem) => ({ file, path: problem.where, value: problem.text, expected: problem.expected })));
    }
  }
  if (issues.length > 0) throw new ConfigError(issues);
}

/** Reads both files through a haraka-config reader; `onChange` is Haraka's reload callback. */
export function loadConfig(reader: HarakaConfigReader, onChange?: () => void): Config {
  checkSyntax(reader);
  const ini = onChange ? reader.get(INI_FILE, 'ini', onChange) : reader.get(INI_FILE, 'ini');
  const doc = onChange ? reader.get(YAML_FILE, 'yaml', onChange) : reader.get(YAML_FILE, 'yaml');
  return buildConfig(ini, doc);
}

/** Package root (where the shipped config/ lives), from dist/lib/config or lib/config. */
export function packageRoot(): string {
  const here = __dirname;
  const up = here.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..';
  return path.resolve(here, up);
}

/** Loads the config a Haraka server in `harakaDir` would see (shipped defaults + its config/). */
export function loadConfigFromDir(harakaDir: string): Config {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const harakaConfig = require('haraka-config') as { module_config(defaults: string, overrides?: string): HarakaConfigReader };
  return loadConfig(harakaConfig.module_config(packageRoot(), path.resolve(harakaDir)));
}
