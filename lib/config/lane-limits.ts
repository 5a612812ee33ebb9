/** The limits of one lane, from the layers of the config. */

import type { LaneLimits } from '../core/lane';
import { mergeLimits } from './limits';
import type { Config } from './types';

const cache = new WeakMap<Config, Map<string, LaneLimits>>();

/**
 * defaults < provider < pool["*"] < pool[provider] < source["*"] < source[provider],
 * field by field. Memoised per Config object, so a reload starts afresh.
 */
export function laneLimits(config: Config, pool: string, source: string, provider: string): LaneLimits {
  let memo = cache.get(config);
  if (!memo) {
    memo = new Map();
    cache.set(config, memo);
  }
  const key = `${pool}\u0000${source}\u0000${provider}`;
  const hit = memo.get(key);
  if (hit) return hit;
  const p = config.pools.get(pool);
  const s = config.sources.get(source);
  const limits = mergeLimits(config.settings.adapt.policy, [
    config.defaults,
    config.providers.get(provider)?.limits,
    p?.limits.get('*'),
    p?.limits.get(provider),
    s?.limits.get('*'),
    s?.limits.get(provider),
  ]);
  if (memo.size < 100_000) memo.set(key, limits);
  return limits;
}
