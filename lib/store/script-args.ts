/**
 * The ARGV layout of every Lua script, written down once, here. The
 * TypeScript side builds each script's ARGV from it (scriptArgs()); the
 * script loader generates from it, into each script's prelude, the Lua table
 * `ARG` (argument name → ARGV index) and the field offsets of the ARGV groups
 * (LIMIT_ARGS, REACT_ARGS, INCIDENT_ARGS, with ARG_SIZE); and a test checks
 * that every script's header lists the same ARGV. As CODE (codes.ts) does for
 * result codes.
 */

import type { ScriptName } from './redis-scripts';

/**
 * The fields of each ARGV group, in order: a group's Lua reader reads
 * `argv[i + <GROUP>_ARGS.<field>]`, its TypeScript encoder (redis-codec.ts)
 * writes the fields in this order. A new field goes at the end.
 */
export const ARG_GROUPS = {
  /** LaneLimits ('' = absent: unlimited, the default policy, UTC). */
  limits: [
    'rateCount',
    'ratePeriodMs',
    'rateBurst',
    'rateKey',
    'concurrency',
    'perDay',
    'recoverStep',
    'recoverIntervalMs',
    'trialIntervalMs',
    'dayOffsetMs',
    'climbStep',
    'start',
    'startIntervalMs',
  ],
  /** ReactParams. */
  react: [
    'decrease',
    'floor',
    'throttlePauseMs',
    'sameEventMs',
    'connectionsMs',
    'suspendMs',
    'acceptedShare',
    'climbCost',
    'throttlePauseMaxMs',
  ],
  /** IncidentParams. */
  incident: ['windowMs', 'minSources', 'share', 'pauseMs', 'probeIntervalMs'],
} as const;

export type ArgGroup = keyof typeof ARG_GROUPS;

/** One ARGV entry: a single value by name, a group (its fields in order), or every remaining value. */
export type ArgSpec = string | { readonly group: ArgGroup } | { readonly rest: string };

/**
 * Every script's ARGV, in order. `clock` is the clock override (epoch ms,
 * tests only; '' = Redis TIME). Trailing single values a call does not use
 * (control list and clear) are left out of its ARGV.
 */
export const SCRIPT_ARGS: Readonly<Record<ScriptName, readonly ArgSpec[]>> = {
  acquire: ['clock', 'mode', 'leaseId', 'leaseMs', { group: 'limits' }],
  claim: ['clock', 'slot', 'epoch', 'leaseId', 'leaseMs', { group: 'limits' }],
  release: ['clock', 'leaseId', 'delivered', 'durationMs', { group: 'limits' }],
  renew: ['clock', 'ttlMs', { rest: 'leaseIds' }],
  'release-stale': ['nodePrefix', 'ownerPrefix'],
  react: ['clock', 'category', 'durationMs', 'sentAt', { group: 'react' }, { group: 'limits' }],
  peek: ['clock'],
  hit: ['clock', 'windowMs'],
  'provider-throttle': ['clock', { group: 'incident' }, 'source', 'sources'],
  'provider-probe': ['clock', { group: 'incident' }],
  'provider-delivered': ['clock'],
  'provider-peek': ['clock'],
  'warm-save': ['evaluated', { rest: 'record' }],
  'source-start': ['today'],
  control: ['clock', 'op', 'targetKey', 'target', 'forMs', 'reason', 'who'],
  'lane-control': ['clock', 'op'],
  'provider-lift': ['clock'],
  tally: ['clock', 'dayOffsetMs', 'keepDays', { rest: 'names' }],
  reason: ['clock', 'effect', 'category', 'rule', 'reply'],
  report: ['clock', 'text', 'ttlMs'],
};

/** The name an ArgSpec has in `ARG` and in scriptArgs() values. */
export function argName(spec: ArgSpec): string {
  return typeof spec === 'string' ? spec : 'group' in spec ? spec.group : spec.rest;
}

/** Each ArgSpec's first ARGV index (1-based) and its last (undefined for a rest). */
export function argIndexes(script: ScriptName): Array<{ name: string; first: number; last?: number }> {
  let at = 1;
  return SCRIPT_ARGS[script].map((spec) => {
    const size = typeof spec === 'string' ? 1 : 'group' in spec ? ARG_GROUPS[spec.group].length : 0;
    const entry =
      size > 0 ? { name: argName(spec), first: at, last: at + size - 1 } : { name: argName(spec), first: at };
    at += size;
    return entry;
  });
}

/** A value for scriptArgs(): one for a single value, the encoded fields for a group, a list for a rest. */
export type ArgValue = string | number | readonly string[];

/**
 * A script's ARGV in its table order from named values; throws on a value
 * missing before a given one, and on a group of the wrong size, so that a
 * caller cannot shift the layout.
 */
export function scriptArgs(script: ScriptName, values: Readonly<Record<string, ArgValue>>): string[] {
  const out: string[] = [];
  const specs = SCRIPT_ARGS[script];
  const given = specs.filter((s) => values[argName(s)] !== undefined).length;
  specs.slice(0, given).forEach((spec) => {
    const v = values[argName(spec)];
    if (v === undefined) throw new Error(`paceline: script ${script}: no value for ARGV ${argName(spec)}`);
    if (typeof spec === 'string') out.push(String(v));
    else if (!Array.isArray(v)) throw new Error(`paceline: script ${script}: ${argName(spec)} must be a list`);
    else if ('group' in spec && v.length !== ARG_GROUPS[spec.group].length)
      throw new Error(
        `paceline: script ${script}: ${spec.group} has ${v.length} values, expected ${ARG_GROUPS[spec.group].length}`,
      );
    else out.push(...(v as readonly string[]));
  });
  return out;
}

/** Lua source: the offsets of every group's fields and the groups' sizes (the prelude of every script). */
export function groupPrelude(): string[] {
  const offsets = (g: ArgGroup) => `{ ${ARG_GROUPS[g].map((f, i) => `${f} = ${i}`).join(', ')} }`;
  const sizes = (Object.keys(ARG_GROUPS) as ArgGroup[]).map((g) => `${g} = ${ARG_GROUPS[g].length}`);
  return [
    `local LIMIT_ARGS = ${offsets('limits')}`,
    `local REACT_ARGS = ${offsets('react')}`,
    `local INCIDENT_ARGS = ${offsets('incident')}`,
    `local ARG_SIZE = { ${sizes.join(', ')} }`,
  ];
}

/** Lua source: the `ARG` table of one script (argument name → first ARGV index). */
export function argPrelude(script: ScriptName): string {
  return `local ARG = { ${argIndexes(script)
    .map((a) => `${a.name} = ${a.first}`)
    .join(', ')} }`;
}
