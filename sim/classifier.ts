/**
 * The reply classifier the simulated MTA hands to the engine. By default the
 * real one: the shipped rules (config/paceline-replies.yaml) through
 * lib/core/classify.ts (lib/engine/outcomes.ts rulesClassifier). `local` is a minimal stand-in kept for comparison.
 * Swapping is one function: {@link makeClassifier}.
 */

import type { Rule } from '../lib/core/classify';
import { loadShippedRules } from '../lib/config/replies';
import { rulesClassifier, type Classifier } from '../lib/engine/outcomes';

/** `shipped`: the package's rules as they are. `pause-only`: the same rules without throttle
 *  durations, so that [adapt] throttle_pause applies. `local`: a three-rule stand-in. */
export type ClassifierName = 'shipped' | 'pause-only' | 'local';

export const CLASSIFIERS: readonly ClassifierName[] = ['shipped', 'pause-only', 'local'];

/** The stand-in: 4.7.500 / 4.7.28 → throttle, TSS04 → suspend for 2 h. */
const LOCAL: Classifier = (reply) => {
  if (/\b4\.7\.(500|28)\b/.test(reply)) return { category: 'throttle', rule: 'sim-throttle' };
  if (/\[TSS04\]/.test(reply)) return { category: 'suspend', rule: 'sim-tss04', durationMs: 7_200_000 };
  return { category: 'unknown' };
};

/** Builds the classifier of the given name. */
export function makeClassifier(name: ClassifierName = 'shipped'): Classifier {
  if (name === 'local') return LOCAL;
  const rules = loadShippedRules();
  if (name === 'shipped') return rulesClassifier(rules);
  return rulesClassifier(
    rules.map((r) => (r.category === 'throttle' && r.durationMs !== undefined ? stripDuration(r) : r)),
  );
}

function stripDuration(rule: Rule): Rule {
  const { durationMs: _omit, ...rest } = rule;
  return Object.freeze(rest);
}
