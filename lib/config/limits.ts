/** Parsing limits blocks and merging their layers into one lane's limits. */

import type { LaneLimits } from '../core/lane-state';
import { parseRate } from '../core/rate';
import { isMapping, join, type IssueList } from './errors';
import type { LimitsLayer } from './types';

const LIMIT_KEYS = ['rate', 'concurrency', 'per_day'] as const;

function countOrUnlimited(issues: IssueList, path: string, value: unknown): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'unlimited') return null;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 1) return value;
  issues.add(path, value, 'a whole number ≥ 1 or "unlimited"');
  return undefined;
}

/** Parses one `limits` block (`rate`, `concurrency`, `per_day`). */
export function parseLimits(issues: IssueList, path: string, raw: unknown): LimitsLayer {
  if (raw === undefined || raw === null) return {};
  if (!isMapping(raw)) {
    issues.add(path, raw, 'a mapping with rate, concurrency and/or per_day');
    return {};
  }
  issues.unknownKeys(path, raw, LIMIT_KEYS);
  const layer: { -readonly [K in keyof LimitsLayer]: LimitsLayer[K] } = {};
  if (raw.rate !== undefined) {
    if (raw.rate === 'unlimited') layer.rate = null;
    else if (typeof raw.rate !== 'string')
      issues.add(join(path, 'rate'), raw.rate, 'a rate string like "30/min" or "unlimited"');
    else {
      const rate = parseRate(raw.rate);
      if (typeof rate === 'string') issues.add(join(path, 'rate'), raw.rate, rate);
      else layer.rate = rate;
    }
  }
  const concurrency = countOrUnlimited(issues, join(path, 'concurrency'), raw.concurrency);
  if (concurrency !== undefined) layer.concurrency = concurrency;
  const perDay = countOrUnlimited(issues, join(path, 'per_day'), raw.per_day);
  if (perDay !== undefined) layer.perDay = perDay;
  return Object.freeze(layer);
}

/** Parses a map of provider name (or `*`) → limits block. */
export function parseLimitsMap(
  issues: IssueList,
  path: string,
  raw: unknown,
  knownProviders: ReadonlySet<string>,
): ReadonlyMap<string, LimitsLayer> {
  const map = new Map<string, LimitsLayer>();
  if (raw === undefined || raw === null) return map;
  if (!isMapping(raw)) {
    issues.add(path, raw, 'a mapping of provider name (or "*") to limits');
    return map;
  }
  for (const [provider, block] of Object.entries(raw)) {
    if (provider !== '*' && !knownProviders.has(provider)) {
      issues.add(
        join(path, provider),
        block,
        `a known provider name or "*" (known: ${[...knownProviders].join(', ')})`,
      );
      continue;
    }
    map.set(provider, parseLimits(issues, join(path, provider), block));
  }
  return map;
}

/** Applies layers in order (later wins, field by field) and drops explicit "unlimited". */
export function mergeLimits(policy: LaneLimits['policy'], layers: ReadonlyArray<LimitsLayer | undefined>): LaneLimits {
  const merged: { rate?: LaneLimits['rate'] | null; concurrency?: number | null; perDay?: number | null } = {};
  for (const layer of layers) {
    if (!layer) continue;
    if (layer.rate !== undefined) merged.rate = layer.rate;
    if (layer.concurrency !== undefined) merged.concurrency = layer.concurrency;
    if (layer.perDay !== undefined) merged.perDay = layer.perDay;
  }
  const out: { -readonly [K in keyof LaneLimits]: LaneLimits[K] } = policy ? { policy } : {};
  if (merged.rate) out.rate = merged.rate;
  if (merged.concurrency) out.concurrency = merged.concurrency;
  if (merged.perDay) out.perDay = merged.perDay;
  return Object.freeze(out);
}
