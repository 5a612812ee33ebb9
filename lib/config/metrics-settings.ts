/** The [metrics] section of paceline.ini: where the Prometheus endpoint listens, and its token. */

import { parseListen } from './control-settings';
import type { IssueList } from './errors';

/** A TCP address (Prometheus scrapes over TCP), or nowhere. */
export type MetricsListen =
  { readonly kind: 'tcp'; readonly host: string; readonly port: number } | { readonly kind: 'off' };

export interface MetricsSettings {
  readonly listen: MetricsListen;
  /** Required as `Authorization: Bearer <token>` when non-empty; needed when listening beyond loopback. */
  readonly token: string;
}

export const METRICS_DEFAULTS = { listen: 'off', token: '' } as const;

function loopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export function parseMetrics(issues: IssueList, values: { listen: string; token: string }): MetricsSettings {
  const listen = parseListen(values.listen);
  if (typeof listen === 'string' || listen.kind === 'socket') {
    const why = typeof listen === 'string' ? ` (${listen})` : '';
    issues.add(
      '[metrics].listen',
      values.listen,
      `127.0.0.1:PORT, [::1]:PORT (a TCP address Prometheus can scrape) or off${why}`,
    );
    return { listen: { kind: 'off' }, token: values.token };
  }
  if (listen.kind === 'tcp' && !loopback(listen.host) && values.token === '') {
    issues.add(
      '[metrics].listen',
      values.listen,
      'a loopback address, or a token in [metrics].token to listen beyond loopback',
    );
  }
  if (values.token !== '' && values.token.length < 16)
    issues.add('[metrics].token', '(hidden)', 'a token of at least 16 characters');
  return { listen, token: values.token };
}
