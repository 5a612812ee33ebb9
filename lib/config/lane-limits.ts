/** The limits of one lane, from the layers of the config. */

import type { LaneLimits } from '../core/lane-state';
import { mergeLimits } from './limits';
import type { Config } from './types';

const cache = new WeakMap<Config, Map<string, LaneLimits>>();

/**
 * defaults < provider < pool["*"] < pool[provider] < source["*"] < source[provider],
 * field by field. A lane is (source, provider): the pool layers are the
 * source's pools' limits, folded into the source when the config is built, so
 * every caller (engine, outcomes, status, check) sees the same limits.
 * Memoised per Config object, so a reload starts afresh.
 */
export function laneLimits(config: Config, source: string, provider: string): LaneLimits {
  let memo = cache.get(config);
  if (!memo) {
    memo = new Map();
    cache.set(config, memo);
  }
  const key = `${source}\u0000${provider}`;
  const hit = memo.get(key);
  if (hit) return hit;
  const s = config.sources.get(source);
  const limits = mergeLimits(config.settings.adapt.policy, [
    config.defaults,
    config.providers.get(provider)?.limits,
    s?.poolLimits.get('*'),
    s?.poolLimits.get(provider),
    s?.limits.get('*'),
    s?.limits.get(provider),
  ]);
  if (memo.size < 100_000) memo.set(key, limits);
  return limits;
}
