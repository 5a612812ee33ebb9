/**
 * The Prometheus endpoint: `GET /metrics` on a TCP address (loopback unless a
 * token is configured). A missing or wrong token → 401; metrics that cannot
 * be gathered (a worker that does not answer) → 503; anything else → 404.
 */

import http from 'node:http';
import type { MetricsSettings } from '../config/metrics-settings';
import { authorized } from '../operator/http';

export interface MetricsListener {
  /** host:port, for the log. */
  readonly where: string;
  close(): Promise<void>;
}

/** What the endpoint serves: the exposition text and its content type. */
export interface Exposition {
  readonly contentType: string;
  text(): Promise<string>;
}

function reply(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Starts the endpoint; undefined when [metrics] listen=off. */
export async function startMetricsListener(
  settings: MetricsSettings,
  exposition: Exposition,
): Promise<MetricsListener | undefined> {
  const { listen, token } = settings;
  if (listen.kind === 'off') return undefined;
  const server = http.createServer((req, res) => {
    if (!authorized(req, token))
      return reply(res, 401, 'text/plain', 'a valid token is required (Authorization: Bearer ...)\n');
    if (req.method !== 'GET' || (req.url ?? '/').split('?')[0] !== '/metrics')
      return reply(res, 404, 'text/plain', 'not found: GET /metrics\n');
    exposition.text().then(
      (text) => reply(res, 200, exposition.contentType, text),
      (err: Error) => reply(res, 503, 'text/plain', `paceline could not gather metrics: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) =>
    server.once('error', reject).listen(listen.port, listen.host, () => resolve()),
  );
  return {
    where: `${listen.host}:${listen.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
