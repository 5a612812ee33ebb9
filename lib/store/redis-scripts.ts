/**
 * Loads the Lua scripts of lib/store/lua (one per file, `<name>-<numKeys>.lua`),
 * expands their `--- @include "<name>"` lines from lua/includes, prepends a
 * prelude generated from the TypeScript definitions (result codes, day length,
 * TTLs, default policy, model constants, state fields, the empty lane, the
 * ARGV layouts of script-args.ts) and defines each as an
 * ioredis command, which sends EVALSHA and falls back to EVAL once per connection.
 */

import fs from 'node:fs';
import path from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import { DEFAULT_POLICY, emptyLane, type LaneState } from '../core/lane-state';
import { EWMA_WEIGHT, LATE_MS } from '../core/lane';
import { MAX_CLIMB_DOUBLINGS } from '../core/pace';
import { GROWTH_EVIDENCE, START_GROWTH } from '../core/start';
import { SETTLE_MS } from '../core/adapt';
import { INCIDENT_COOLDOWN_WINDOWS } from '../core/provider-state';
import { DAY_MS } from '../core/day';
import { CODE } from './codes';
import { argPrelude, groupPrelude } from './script-args';

/** An idle lane's keys live this long after its last write or last pending time, ms (the memory store's sweep). */
export const IDLE_TTL_MS = 2 * DAY_MS;
/** A blocked lane is remembered at least this long after its last write, ms (the memory store never forgets it). */
export const BLOCKED_TTL_MS = 30 * DAY_MS;
/** Warm-up records and source start days live this long after their last save or use, ms. */
export const WARM_TTL_MS = 400 * DAY_MS;

/** A LaneState property kept in the state hash (leases live in their own ZSET). */
export type StateProperty = Exclude<keyof LaneState, 'leases'>;

/**
 * The state hash: [hash field, LaneState property, 'n' number | 's' string].
 * Short field names keep a lane small. Lua and the TypeScript decoder both
 * follow this order; a new LaneState property is one line here (the loader
 * refuses to start when a property is missing) plus its logic in lua/includes.
 */
export const STATE_FIELDS: ReadonlyArray<readonly [string, StateProperty, 'n' | 's']> = [
  ['t', 'tat', 'n'],
  ['va', 'vAt', 'n'],
  ['vo', 'vOrigin', 'n'],
  ['sc', 'scale', 'n'],
  ['r', 'rateKey', 's'],
  ['d', 'day', 'n'],
  ['c', 'dayCount', 'n'],
  ['dt', 'dayThrottles', 'n'],
  ['pd', 'prevDay', 'n'],
  ['pc', 'prevDayCount', 'n'],
  ['pt', 'prevDayThrottles', 'n'],
  ['m', 'meanDeliveryMs', 'n'],
  ['f', 'factor', 'n'],
  ['pf', 'prevFactor', 'n'],
  ['pu', 'pauseUntil', 'n'],
  ['cc', 'connCap', 'n'],
  ['cu', 'connCapUntil', 'n'],
  ['b', 'blockedAt', 'n'],
  ['pa', 'trialAt', 'n'],
  ['hu', 'sameEventUntil', 'n'],
  ['ro', 'recoverAt', 'n'],
  ['k', 'known', 'n'],
  ['cm', 'climbMs', 'n'],
  ['cn', 'climbs', 'n'],
  ['e', 'epoch', 'n'],
  ['da', 'departAt', 'n'],
  ['mi', 'minute', 'n'],
  ['mc', 'minuteCount', 'n'],
  ['am', 'acceptMinute', 'n'],
  ['ac', 'acceptCount', 'n'],
  ['ap', 'acceptPrev', 'n'],
  ['ga', 'growAt', 'n'],
  ['gn', 'grown', 'n'],
  ['aa', 'acceptedAt', 'n'],
  ['bo', 'backoffs', 'n'],
];

/** Every script and its number of KEYS; the file is lua/<name>-<numKeys>.lua. */
export const SCRIPTS = {
  acquire: 2,
  claim: 2,
  release: 2,
  renew: 2,
  'release-stale': 1,
  react: 2,
  peek: 2,
  hit: 1,
  'provider-throttle': 1,
  'provider-probe': 1,
  'provider-delivered': 1,
  'provider-peek': 1,
  'warm-save': 1,
  'source-start': 1,
  control: 1,
  'lane-control': 2,
  'provider-lift': 1,
  tally: 3,
  reason: 1,
  report: 1,
} as const;

export type ScriptName = keyof typeof SCRIPTS;

/** Scripts that only read (ioredis may then route them like reads). */
const READ_ONLY: ReadonlySet<ScriptName> = new Set<ScriptName>(['peek', 'provider-peek']);

/** lua/ next to this file (ts-node, tests) or, from dist/lib/store, the source tree's lib/store/lua. */
function luaDir(): string {
  const candidates = [path.join(__dirname, 'lua'), path.resolve(__dirname, '..', '..', '..', 'lib', 'store', 'lua')];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'includes')));
  if (!found) throw new Error(`paceline: Lua scripts not found in ${candidates.join(' or ')}`);
  return found;
}

function luaValue(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'math.huge';
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `{ ${value.map(luaValue).join(', ')} }`;
  const entries = Object.entries(value as Record<string, unknown>).map(([k, v]) => `${k} = ${luaValue(v)}`);
  return `{ ${entries.join(', ')} }`;
}

/** Refuses a STATE_FIELDS table that does not cover emptyLane() exactly (lane-state.ts grew). */
function checkFields(empty: Record<string, unknown>): void {
  const want = Object.keys(empty)
    .filter((k) => k !== 'leases')
    .sort();
  const have = STATE_FIELDS.map(([, p]) => p as string).sort();
  if (want.join() !== have.join()) {
    throw new Error(
      `paceline: STATE_FIELDS in lib/store/redis-scripts.ts (${have.join(', ')}) do not match LaneState (${want.join(', ')})`,
    );
  }
}

/**
 * The Lua constants a script starts with, generated from the TypeScript
 * definitions; with `script`, its `ARG` table too (lib/store/script-args.ts).
 */
export function prelude(script?: ScriptName): string {
  const empty: Record<string, unknown> = { ...emptyLane() };
  checkFields(empty);
  delete empty.leases;
  return [
    '-- Generated by lib/store/redis-scripts.ts from the TypeScript definitions.',
    `local CODE = ${luaValue(CODE)}`,
    `local DAY_MS = ${luaValue(DAY_MS)}`,
    `local IDLE_TTL_MS = ${luaValue(IDLE_TTL_MS)}`,
    `local BLOCKED_TTL_MS = ${luaValue(BLOCKED_TTL_MS)}`,
    `local WARM_TTL_MS = ${luaValue(WARM_TTL_MS)}`,
    `local DEFAULT_POLICY = ${luaValue(DEFAULT_POLICY)}`,
    `local EWMA_WEIGHT = ${luaValue(EWMA_WEIGHT)}`,
    `local LATE_MS = ${luaValue(LATE_MS)}`,
    `local MAX_CLIMB_DOUBLINGS = ${luaValue(MAX_CLIMB_DOUBLINGS)}`,
    `local GROWTH_EVIDENCE = ${luaValue(GROWTH_EVIDENCE)}`,
    `local START_GROWTH = ${luaValue(START_GROWTH)}`,
    `local SETTLE_MS = ${luaValue(SETTLE_MS)}`,
    `local INCIDENT_COOLDOWN_WINDOWS = ${luaValue(INCIDENT_COOLDOWN_WINDOWS)}`,
    `local FIELD_NAMES = ${luaValue(STATE_FIELDS.map(([name]) => name))}`,
    `local FIELD_PROPS = ${luaValue(STATE_FIELDS.map(([, prop]) => prop))}`,
    `local FIELD_NUMERIC = { ${STATE_FIELDS.map(([, , kind]) => String(kind === 'n')).join(', ')} }`,
    `local EMPTY_TEXT = ${luaValue(STATE_FIELDS.map(([, prop]) => String(empty[prop])))}`,
    `local FIELD_INDEX = ${luaValue(Object.fromEntries(STATE_FIELDS.map(([name], i) => [name, i + 1])))}`,
    `local EMPTY = ${luaValue(empty)}`,
    ...groupPrelude(),
    ...(script ? [argPrelude(script)] : []),
    '',
  ].join('\n');
}

/** A script's full text: prelude, then the file with its includes expanded (each once). */
export function scriptSource(file: string, dir = luaDir()): string {
  const seen = new Set<string>();
  const expand = (text: string): string =>
    text.replace(/^--- @include "([\w-]+)"$/gm, (_line, name: string) => {
      if (seen.has(name)) return '';
      seen.add(name);
      return expand(fs.readFileSync(path.join(dir, 'includes', `${name}.lua`), 'utf8'));
    });
  const script = file.replace(/-\d+$/, '') as ScriptName;
  return (
    prelude(script in SCRIPTS ? script : undefined) + expand(fs.readFileSync(path.join(dir, `${file}.lua`), 'utf8'))
  );
}

type ScriptFn = (...args: Array<string | number>) => Promise<unknown>;

/** Calls a defined script: `run(name, keys, args)` → the raw reply. */
export type ScriptRunner = (
  name: ScriptName,
  keys: readonly string[],
  args: ReadonlyArray<string | number>,
) => Promise<unknown>;

/** Defines every script on the client (command names `paceline_v1_<name>`) and returns a runner. */
export function defineScripts(client: Redis | Cluster): ScriptRunner {
  const dir = luaDir();
  const fns = new Map<string, ScriptFn>();
  for (const [name, numberOfKeys] of Object.entries(SCRIPTS) as Array<[ScriptName, number]>) {
    const command = `paceline_v1_${name.replace(/-/g, '_')}`;
    const lua = scriptSource(`${name}-${numberOfKeys}`, dir);
    client.defineCommand(command, { lua, numberOfKeys, readOnly: READ_ONLY.has(name) });
    const fn = (client as unknown as Record<string, ScriptFn | undefined>)[command];
    if (typeof fn !== 'function') throw new Error(`paceline: ioredis did not define ${command}`);
    fns.set(name, fn.bind(client));
  }
  return (name, keys, args) => (fns.get(name) as ScriptFn)(...keys, ...args);
}
