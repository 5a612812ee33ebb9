/**
 * `paceline pause|resume|lift|reset [HARAKA_DIR] --provider P --source S
 * [--for 2h] [--reason TEXT] [--who NAME] [--json]`: an operator action. With
 * the Redis store it is written through the store, so every node sees it
 * within a second; with the memory store it goes to the running Haraka's
 * control listener ([control] listen: a Unix socket in HARAKA_DIR by default).
 */

import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { loadConfigFromDir } from '../config/load';
import type { Config } from '../config/types';
import { ActionError, runAction, type ActionName, type ActionRequest, type ActionResult } from '../operator/actions';
import { openRedisStore } from '../store/redis-client';
import type { Output } from './check';

export const CONTROL_USAGE = `usage: paceline pause|resume|lift|reset [HARAKA_DIR] [--provider P] [--source S] [--for 2h] [--reason TEXT] [--who NAME] [--json]
  a target: --provider P (all its lanes), --source S (all its lanes), or both (one lane)
  pause: until resumed, or for --for; resume: end a pause; lift: end suspensions and blocks
  (and a provider-wide incident); reset: back to the configured pace
usage: paceline warmup reset|move|freeze|thaw [HARAKA_DIR] --source S [--provider P] [--day N] [--reason TEXT] [--who NAME] [--json]
  a warming source's lanes (one provider, or every configured one) to day 1 (reset) or day N (move) from today;
  freeze keeps them on today's day until thaw, move or reset`;

const VALUED = new Map([
  ['--provider', 'provider'],
  ['--source', 'source'],
  ['--for', 'for'],
  ['--reason', 'reason'],
  ['--who', 'who'],
  ['--day', 'day'],
]);

interface Parsed {
  dir: string;
  json: boolean;
  fields: Record<string, string>;
}

function parse(args: readonly string[]): Parsed | string {
  const fields: Record<string, string> = {};
  const rest: string[] = [];
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const key = VALUED.get(a);
    if (key) {
      const v = args[++i];
      if (v === undefined) return `${a} needs a value`;
      fields[key] = v;
    } else if (a === '--json') json = true;
    else if (a.startsWith('-')) return `unknown option ${a}`;
    else rest.push(a);
  }
  if (rest.length > 1) return `one HARAKA_DIR at most (got ${rest.join(' ')})`;
  return { dir: path.resolve(rest[0] ?? '.'), json, fields };
}

/** POSTs the action to the running Haraka's control listener. */
function postAction(config: Config, dir: string, req: ActionRequest): Promise<ActionResult> {
  const { listen, token } = config.settings.control;
  if (listen.kind === 'off')
    return Promise.reject(
      new Error('the memory store needs the control listener, and [control] listen=off in paceline.ini'),
    );
  const where =
    listen.kind === 'socket'
      ? { socketPath: path.resolve(dir, listen.path) }
      : { host: listen.host, port: listen.port };
  const body = JSON.stringify(req);
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  };
  if (token) headers.authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const r = http.request({ ...where, path: '/actions', method: 'POST', headers, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let answer: ActionResult & { error?: string };
        try {
          answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ActionResult & { error?: string };
        } catch {
          return reject(new Error(`the control listener answered ${res.statusCode} without JSON`));
        }
        if (res.statusCode === 200) return resolve(answer);
        const err = answer.error ?? `HTTP ${res.statusCode}`;
        reject(res.statusCode === 400 ? new ActionError(err) : new Error(err));
      });
    });
    r.on('timeout', () => r.destroy(new Error('the control listener did not answer within 10 s')));
    r.on('error', (err: NodeJS.ErrnoException) => {
      const at = listen.kind === 'socket' ? where.socketPath : `${listen.host}:${listen.port}`;
      reject(
        new Error(
          `cannot reach the control listener at ${at} (${err.code ?? err.message}): is Haraka with paceline running in ${dir}?`,
        ),
      );
    });
    r.end(body);
  });
}

async function act(config: Config, dir: string, req: ActionRequest): Promise<ActionResult> {
  const r = config.settings.redis;
  if (config.settings.store !== 'redis' || !r) return postAction(config, dir, req);
  const store = await openRedisStore(r.connection, r.prefix);
  try {
    return await runAction(config, store, req);
  } finally {
    await store.close();
  }
}

/** `paceline warmup reset|move ...`. */
export function warmupCommand(args: readonly string[], io: Output): Promise<number> | number {
  const [sub, ...rest] = args;
  if (sub === 'reset' || sub === 'move' || sub === 'freeze' || sub === 'thaw')
    return controlCommand(`warmup-${sub}`, rest, io);
  io.err(`paceline warmup: expected reset, move, freeze or thaw${sub ? `, not "${sub}"` : ''}\n${CONTROL_USAGE}`);
  return 2;
}

/** Returns the exit code: 0 done, 1 refused or failed (the message says why), 2 usage. */
export async function controlCommand(action: ActionName, args: readonly string[], io: Output): Promise<number> {
  const parsed = parse(args);
  if (typeof parsed === 'string') {
    io.err(`paceline ${action}: ${parsed}\n${CONTROL_USAGE}`);
    return 2;
  }
  if (parsed.fields.day !== undefined && action !== 'warmup-move') {
    io.err(`paceline ${action}: --day is for warmup move\n${CONTROL_USAGE}`);
    return 2;
  }
  const { dir, json, fields } = parsed;
  const req: ActionRequest = { action, ...fields, who: fields.who ?? os.userInfo().username };
  try {
    const result = await act(loadConfigFromDir(dir), dir, req);
    io.out(json ? JSON.stringify(result) : result.line);
    return 0;
  } catch (err) {
    io.err(`paceline ${action}: ${(err as Error).message}`);
    return 1;
  }
}
