/**
 * Which provider a destination belongs to, from its MX host names.
 *
 * Providers throttle per sending IP across every domain they host, so every
 * limit is kept per provider, never per recipient domain. A provider is found
 * by MX host suffix on label boundaries (`evilgoogle.com` is not Google); any
 * other destination is its own provider, keyed by its set of MX hosts, so
 * domains that share MX hosts share lanes.
 */

/** A provider's identity and the MX host suffixes that select it. */
export interface ProviderRule {
  readonly name: string;
  /** Lower-case host suffixes without leading or trailing dots. */
  readonly mxSuffixes: readonly string[];
}

/** Lower-cases a host name and strips a trailing root dot. */
export function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/\.$/, '');
}

/** True when `host` is `suffix` or ends with `.suffix` (label boundary). */
export function hostMatchesSuffix(host: string, suffix: string): boolean {
  return host === suffix || host.endsWith(`.${suffix}`);
}

/** Prefix of providers made up from MX host sets. */
export const MX_PROVIDER_PREFIX = 'mx:';

/**
 * Finds providers by MX host; built once per config. The longest matching
 * suffix wins, so an operator's `tenant.mail.protection.outlook.com` rule
 * beats the shipped `mail.protection.outlook.com`.
 */
export class ProviderMatcher {
  private readonly suffixes: ReadonlyArray<readonly [string, string]>;

  constructor(rules: readonly ProviderRule[]) {
    const pairs: Array<readonly [string, string]> = [];
    for (const rule of rules) for (const s of rule.mxSuffixes) pairs.push([normalizeHost(s), rule.name]);
    this.suffixes = pairs.sort((a, b) => b[0].length - a[0].length);
  }

  /** The provider of one MX host, or undefined when no rule matches. */
  matchHost(host: string): string | undefined {
    const h = normalizeHost(host);
    for (const [suffix, name] of this.suffixes) if (hostMatchesSuffix(h, suffix)) return name;
    return undefined;
  }

  /**
   * The provider of a destination given its MX hosts in preference order: the
   * first host that matches a rule decides; with none, `mx:` + the sorted set.
   */
  match(mxHosts: readonly string[]): string {
    for (const host of mxHosts) {
      const name = this.matchHost(host);
      if (name) return name;
    }
    const set = [...new Set(mxHosts.map(normalizeHost))].sort();
    return MX_PROVIDER_PREFIX + set.join(',');
  }
}
