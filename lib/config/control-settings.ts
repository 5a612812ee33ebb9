/** The [control] section of paceline.ini: where the operator listener listens, and its token. */

import net from 'node:net';
import type { IssueList } from './errors';

/** Where the control listener listens: a Unix socket (path relative to the Haraka dir), a TCP address, or nowhere. */
export type ControlListen =
  | { readonly kind: 'socket'; readonly path: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'off' };

export interface ControlSettings {
  readonly listen: ControlListen;
  /** Required as `Authorization: Bearer <token>` when non-empty; needed when listening beyond loopback. */
  readonly token: string;
}

export const CONTROL_DEFAULTS = { listen: 'paceline.sock', token: '' } as const;

function loopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** `off`, `HOST:PORT` / `[V6]:PORT` (TCP) or a socket path. */
export function parseListen(text: string): ControlListen | string {
  if (text === 'off') return { kind: 'off' };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+|localhost)):(\d{1,5})$/.exec(text);
  if (m) {
    const host = (m[1] ?? m[2]) as string;
    const port = Number(m[3]);
    if (host !== 'localhost' && net.isIP(host) === 0) return `"${host}" is not an IP address`;
    if (port < 1 || port > 65_535) return `port ${port} is not between 1 and 65535`;
    return { kind: 'tcp', host, port };
  }
  if (text === '' || /[\0\n]/.test(text)) return 'a socket path, HOST:PORT or off';
  return { kind: 'socket', path: text };
}

export function parseControl(issues: IssueList, values: { listen: string; token: string }): ControlSettings {
  const listen = parseListen(values.listen);
  if (typeof listen === 'string') {
    issues.add(
      '[control].listen',
      values.listen,
      `a Unix socket path (relative to the Haraka directory), 127.0.0.1:PORT or off (${listen})`,
    );
    return { listen: { kind: 'off' }, token: values.token };
  }
  if (listen.kind === 'tcp' && !loopback(listen.host) && values.token === '') {
    issues.add(
      '[control].listen',
      values.listen,
      'a loopback address, or a token in [control].token to listen beyond loopback',
    );
  }
  if (values.token !== '' && values.token.length < 16)
    issues.add('[control].token', '(hidden)', 'a token of at least 16 characters');
  return { listen, token: values.token };
}
