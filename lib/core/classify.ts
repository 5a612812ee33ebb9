/**
 * What a remote reply means for pacing: a category, found by rules that are
 * data (config/paceline-replies.yaml), not code, so that operators can add
 * what their providers answer without a release.
 *
 * Rules are tried in list order, first match wins, in two passes: first the
 * rules for the message's provider, then the generic ones. A provider's own
 * words are more precise than any generic reading of the same codes (Microsoft
 * puts connection limits, rate limits and reputation blocks all under 4.7.x),
 * and a provider rule never applies to another provider.
 */

import type { Reply } from './reply';

/** Every category a rule can name; see docs and providers.md for their meaning. */
export const CATEGORIES = [
  'throttle',
  'connections',
  'suspend',
  'blocked',
  'recipient',
  'message',
  'transient',
  'unknown',
] as const;

/**
 * What a reply means for the lane:
 * - `throttle`: slow the lane (rate limited, server busy, unusual rate).
 * - `connections`: too many connections on the lane (its concurrency is capped for a while).
 * - `suspend`: stop the lane for a while (hours), then resume carefully.
 * - `blocked`: the source IP is block-listed here; stop until an operator acts.
 * - `recipient`: about one mailbox (unknown, full, receiving too fast).
 * - `message`: about this message or the sender's domain, authentication, TLS.
 * - `transient`: a provider-side hiccup or greylisting; retry normally.
 * - `unknown`: no rule matched.
 */
export type Category = (typeof CATEGORIES)[number];

/** True for the exact category names above. */
export function isCategory(value: unknown): value is Category {
  return typeof value === 'string' && (CATEGORIES as readonly string[]).includes(value);
}

/** One classification rule; every pattern present must match. */
export interface Rule {
  /** Unique name, reported with every classification (logs, `paceline classify`). */
  readonly name: string;
  /** Only for messages to this provider; absent = generic, for every provider. */
  readonly provider?: string;
  /** Matched against the basic code as a string, e.g. `/^4/`; needs a code. */
  readonly code?: RegExp;
  /** Matched against the enhanced code, e.g. `/^4\.7\.(5\d\d|6\d\d)$/`; needs one. */
  readonly enhanced?: RegExp;
  /** Matched against the reply text; the loader compiles it case-insensitive. */
  readonly text?: RegExp;
  readonly category: Category;
  /**
   * Milliseconds: the pause of a throttle, how long a connections cap lasts,
   * how long a suspend stops the lane. Absent: the controller's defaults.
   */
  readonly durationMs?: number;
  /** Act only after `count` matches on the lane within `windowMs` milliseconds. */
  readonly threshold?: { readonly count: number; readonly windowMs: number };
}

/**
 * The category of one reply and the rule that gave it (none for `unknown`):
 * what classify() finds, before it becomes a Classification.
 */
export interface RuleMatch {
  category: Category;
  rule?: Rule;
}

/**
 * What a classifier tells a lane about one reply: its category, with the
 * name and the own durations of the rule that gave it. The one
 * classification type (the engine's Classifier returns it).
 */
export interface Classification {
  readonly category: Category;
  /** Name of the rule that matched, for logs and metrics. */
  readonly rule?: string;
  /** The rule's own duration for the reaction (suspensions, caps), ms. */
  readonly durationMs?: number;
  /** The rule acts only after `count` matches within `windowMs` on the lane. */
  readonly threshold?: { readonly count: number; readonly windowMs: number };
}

/** `search` ignores a pattern's `g`/`y` state, so a shared RegExp stays pure. */
function hits(pattern: RegExp | undefined, value: string | undefined): boolean {
  if (!pattern) return true;
  return value !== undefined && value.search(pattern) !== -1;
}

/** True when every pattern of the rule matches the reply (provider not checked). */
export function ruleMatches(rule: Rule, reply: Reply): boolean {
  return (
    hits(rule.code, reply.code === undefined ? undefined : String(reply.code)) &&
    hits(rule.enhanced, reply.enhanced) &&
    hits(rule.text, reply.text)
  );
}

/**
 * Classifies a reply for a message to `provider` (undefined when the provider
 * is not known). Provider rules for that provider first, then generic rules,
 * each in list order; the first match wins.
 *
 * When nothing matches the result is `unknown` without a rule: the caller
 * falls back on the reply class (4xx: retry as a transient failure, 5xx:
 * permanent, no pacing change), the way an MTA without rules would.
 */
export function classify(reply: Reply, provider: string | undefined, rules: readonly Rule[]): RuleMatch {
  if (provider !== undefined) {
    for (const rule of rules) {
      if (rule.provider === provider && ruleMatches(rule, reply)) return { category: rule.category, rule };
    }
  }
  for (const rule of rules) {
    if (rule.provider === undefined && ruleMatches(rule, reply)) return { category: rule.category, rule };
  }
  return { category: 'unknown' };
}
