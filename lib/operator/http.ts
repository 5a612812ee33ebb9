/**
 * The control listener inside the plugin: the operator actions over HTTP
 * (JSON), so that `paceline pause ...` reaches a running Haraka whose state
 * lives in its memory, and so that tools can drive it. Local by default (a
 * Unix socket in the Haraka directory, or a loopback port); a token is
 * required when one is configured, and config refuses a non-loopback address
 * without one.
 *
 *   GET  /controls   → 200 { now, controls: Control[] }
 *   POST /actions    { action, source?, provider?, for?, reason?, who? }
 *                    → 200 { line, control?, lanes? } | 400 { error } (bad request, unknown name)
 *   GET  /, /dashboard, /dashboard/<asset>, /history.json → the dashboard (lib/operator/dashboard.ts)
 *   any other        → 404; a missing or wrong token → 401; a store failure → 503
 *
 * The token goes in `Authorization: Bearer <token>`; a browser, which cannot
 * set that header, may send it on GET requests as `?token=` (the page then
 * sets it as the HttpOnly cookie `paceline_token` and drops it from the
 * address) or as that cookie. POST takes the header only, so another site
 * cannot act with the browser's cookie.
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { ControlSettings } from '../config/control-settings';
import type { Control } from '../core/control';
import { ActionError, actionFromJson, type ActionRequest, type ActionResult } from './actions';
import { serveDashboard, TOKEN_COOKIE } from './dashboard';

export interface ControlHandlers {
  controls(): Promise<{ now: number; value: Control[] }>;
  act(req: ActionRequest): Promise<ActionResult>;
  /** The dashboard's data (GET /history.json). */
  dashboard(): Promise<unknown>;
}

/** Largest request body accepted, bytes. */
const MAX_BODY = 16_384;

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Constant-time comparison of a presented token with the configured one. */
function same(given: string, token: string): boolean {
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(token).digest();
  return crypto.timingSafeEqual(a, b);
}

/** The tokens a request presents: the bearer header; on GET also `?token=` and the cookie. */
function presented(req: http.IncomingMessage): string[] {
  const out = [/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? ''];
  if (req.method !== 'GET') return out;
  const query = new URL(req.url ?? '/', 'http://paceline').searchParams.get('token');
  if (query) out.push(query);
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === TOKEN_COOKIE) out.push(decodeURIComponent(rest.join('=')));
  }
  return out;
}

/** Whether the request presents the configured token (any request when none is configured). */
export function authorized(req: http.IncomingMessage, token: string): boolean {
  if (token === '') return true;
  return presented(req).some((given) => same(given, token));
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new ActionError(`request body over ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function route(req: http.IncomingMessage, res: http.ServerResponse, h: ControlHandlers): Promise<void> {
  const url = (req.url ?? '/').split('?')[0] ?? '/';
  if (req.method === 'GET' && (await serveDashboard(req, res, url, h.dashboard))) return;
  if (req.method === 'GET' && url === '/controls') {
    const { now, value } = await h.controls();
    return send(res, 200, { now, controls: value });
  }
  if (req.method === 'POST' && url === '/actions') {
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      throw err instanceof ActionError ? err : new ActionError('the body is not valid JSON');
    }
    return send(res, 200, await h.act(actionFromJson(body, 'http')));
  }
  send(res, 404, { error: 'not found: GET /, /history.json, /controls or POST /actions' });
}

export interface ControlListener {
  /** Where it listens, for the log: the socket path or host:port. */
  readonly where: string;
  close(): Promise<void>;
}

/** Starts the listener; `dir` is the Haraka directory a socket path is relative to. */
export async function startControlListener(
  settings: ControlSettings,
  dir: string,
  h: ControlHandlers,
): Promise<ControlListener | undefined> {
  const { listen, token } = settings;
  if (listen.kind === 'off') return undefined;
  const server = http.createServer((req, res) => {
    if (!authorized(req, token))
      return send(res, 401, {
        error: 'a valid token is required (Authorization: Bearer ..., or ?token=... on GET from a browser)',
      });
    route(req, res, h).catch((err: Error) => {
      if (err instanceof ActionError) send(res, 400, { error: err.message });
      else send(res, 503, { error: `paceline could not act: ${err.message}` });
    });
  });
  let where: string;
  if (listen.kind === 'socket') {
    where = path.resolve(dir, listen.path);
    // a socket left by a process that died is in the way; a live one answers, and we refuse to take its place
    if (fs.existsSync(where)) {
      if (await answers(where)) throw new Error(`paceline: control socket ${where} is in use by another process`);
      fs.rmSync(where, { force: true });
    }
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(where, () => resolve()));
    fs.chmodSync(where, 0o660);
  } else {
    where = `${listen.host}:${listen.port}`;
    await new Promise<void>((resolve, reject) =>
      server.once('error', reject).listen(listen.port, listen.host, () => resolve()),
    );
  }
  return {
    where,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        if (listen.kind === 'socket') fs.rmSync(where, { force: true });
      }),
  };
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath, path: '/controls', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}
