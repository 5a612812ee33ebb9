/**
 * The pacing strategies compared, each a paceline configuration (ini + yaml)
 * built for the scenario's sources and domains:
 * 1. paceline as shipped: the package's config files and built-in provider
 *    limits (above the hidden capacity), adaptation on, optional [adapt] overrides;
 * 2. a static limit at three times each lane's hidden capacity, adaptation off;
 * 3. no pacing: rate and concurrency unlimited, adaptation off.
 */

import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { Scenario } from './scenario';

export type StrategyName = 'paceline' | 'static-3x' | 'no pacing';

export interface Strategy {
  readonly name: StrategyName;
  readonly ini: Record<string, Record<string, string>>;
  readonly yaml: Record<string, unknown>;
}

const ROOT = path.resolve(__dirname, '..');

/** Reads an ini file the way paceline's settings expect it: sections of string values. */
export function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = { main: {} };
  let section = 'main';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const head = /^\[([^\]]+)\]$/.exec(line);
    if (head) {
      section = (head[1] as string).trim();
      out[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) (out[section] as Record<string, string>)[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** Parses `decrease=0.7,recover_step=0.05` into [adapt] keys (validated later by the real config loader). */
export function parseOverrides(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([a-z_]+)\s*=\s*(\S+)$/.exec(pair);
    if (!m) throw new Error(`--adapt: expected key=value pairs separated by commas, got "${pair}"`);
    out[m[1] as string] = m[2] as string;
  }
  return out;
}

/** Sources, one pool and static MX for every simulated domain: the part every strategy shares. */
function topology(sc: Scenario): Record<string, unknown> {
  const sources: Record<string, unknown> = {};
  for (const s of sc.sources) sources[s.name] = { address: s.address, helo: `${s.name}.sender.example` };
  const staticMx: Record<string, unknown> = {};
  for (const model of sc.providers()) {
    for (const d of model.domains) staticMx[d.domain] = [{ host: d.mxHost, address: d.mxAddress }];
  }
  return { sources, pools: { default: { sources: sc.sources.map((s) => s.name) } }, static_mx: staticMx };
}

/** Strategy 1: the shipped config files, with optional [adapt] overrides. */
export function pacelineStrategy(sc: Scenario, adapt: Record<string, string> = {}): Strategy {
  const ini = parseIni(fs.readFileSync(path.join(ROOT, 'config', 'paceline.ini'), 'utf8'));
  ini.adapt = { ...(ini.adapt ?? {}), ...adapt };
  const shipped = (parse(fs.readFileSync(path.join(ROOT, 'config', 'paceline.yaml'), 'utf8')) ?? {}) as Record<
    string,
    unknown
  >;
  return { name: 'paceline', ini, yaml: { ...shipped, ...topology(sc) } };
}

/** Mean hidden limit of one lane over the run, messages per minute (the static operator's "known" figure). */
function meanLimit(sc: Scenario, provider: string, source: string): number {
  const model = sc.providers().find((m) => m.name === provider);
  const s = sc.sources.find((x) => x.name === source);
  if (!model || !s) return 0;
  let sum = 0;
  let n = 0;
  for (let t = sc.t0; t < sc.endAt; t += 60_000, n++) sum += model.limitPerMin(s, t + 30_000);
  return n === 0 ? 0 : sum / n;
}

/**
 * Strategy 2: every lane paced at three times its mean hidden limit; no
 * adaptation. Concurrency is left unlimited so that the rate is the only
 * limit (with the shipped 10 the fastest lane's backlog polls every second).
 */
export function staticStrategy(sc: Scenario): Strategy {
  const top = topology(sc);
  const sources: Record<string, unknown> = {};
  for (const s of sc.sources) {
    const limits: Record<string, unknown> = {};
    for (const model of sc.providers())
      limits[model.name] = {
        rate: `${Math.max(1, Math.round(3 * meanLimit(sc, model.name, s.name)))}/min`,
        concurrency: 'unlimited',
      };
    sources[s.name] = { address: s.address, helo: `${s.name}.sender.example`, limits };
  }
  return { name: 'static-3x', ini: { adapt: { enabled: 'false' } }, yaml: { ...top, sources } };
}

/** Strategy 3: no rate, no concurrency limit (only the MTA's own), no adaptation. */
export function noPacingStrategy(sc: Scenario): Strategy {
  const open = { limits: { rate: 'unlimited', concurrency: 'unlimited' } };
  const providers: Record<string, unknown> = {};
  for (const model of sc.providers()) providers[model.name] = open;
  return {
    name: 'no pacing',
    ini: { adapt: { enabled: 'false' } },
    yaml: { ...topology(sc), defaults: open, providers },
  };
}
