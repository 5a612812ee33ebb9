/**
 * The control listener (lib/operator/http.ts) on a real loopback port and a
 * real Unix socket, over a memory store: the token is required when set, bad
 * requests get a 400 that says why and change nothing, a good one acts. And
 * [control] in paceline.ini: a non-loopback address needs a token, which is
 * never printed.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { buildConfig } from '../../lib/config/load';
import { ConfigError, formatIssue } from '../../lib/config/errors';
import { runAction } from '../../lib/operator/actions';
import { loadDashboard } from '../../lib/operator/dashboard';
import { startControlListener } from '../../lib/operator/http';
import { MemoryStore } from '../../lib/store/memory';
import { freePort } from '../helpers/ports';

const YAML = { sources: { a: { address: '127.0.0.2' }, b: { address: '127.0.0.3' } } };
const TOKEN = 'a-long-enough-secret-token';

function problems(ini: unknown): string[] {
  try {
    buildConfig(ini, YAML);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.map(formatIssue);
  }
}

type Where = { host: string; port: number } | { socketPath: string };

function request(
  where: Where,
  method: string,
  url: string,
  body?: string,
  token?: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = token ? { authorization: `Bearer ${token}` } : {};
    const req = http.request({ ...where, method, path: url, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>,
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

t.test('[control] settings: local by default, a token to listen beyond loopback', async (t) => {
  const config = buildConfig({}, YAML);
  t.same(
    config.settings.control,
    { listen: { kind: 'socket', path: 'paceline.sock' }, token: '' },
    'default: a Unix socket in the Haraka dir, no token',
  );
  t.same(problems({ control: { listen: '127.0.0.1:8025' } }), [], 'a loopback port needs no token');
  t.match(
    problems({ control: { listen: '0.0.0.0:8025' } }).join('\n'),
    /\[control\]\.listen.*0\.0\.0\.0:8025.*a token in \[control\]\.token/,
    'a public address without a token is refused',
  );
  t.same(problems({ control: { listen: '0.0.0.0:8025', token: TOKEN } }), [], 'with a token it is accepted');
  const short = problems({ control: { listen: '127.0.0.1:8025', token: 'hunter2' } }).join('\n');
  t.match(short, /\[control\]\.token.*at least 16 characters/, 'a short token is refused');
  t.notMatch(short, /hunter2/, 'and not printed');
  t.match(problems({ control: { listen: '10.0.0.1:99999' } }).join('\n'), /port 99999/, 'a bad port is refused');
  t.match(
    problems({ control: { lissen: 'x' } }).join('\n'),
    /\[control\]\.lissen.*no such key/,
    'an unknown key is refused',
  );
});

t.test('the HTTP listener: token, bad requests, actions', async (t) => {
  const config = buildConfig({}, YAML);
  const store = new MemoryStore();
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-ctl-'));
  const listener = await startControlListener({ listen: { kind: 'tcp', host: '127.0.0.1', port }, token: TOKEN }, dir, {
    controls: () => store.controls(),
    act: (req) => runAction(config, store, req),
    dashboard: () => loadDashboard(config, store, dir),
  });
  t.teardown(() => listener?.close());
  const at = { host: '127.0.0.1', port };
  const pause = JSON.stringify({ action: 'pause', provider: 'google', for: '1h', reason: 'test', who: 'carol' });

  t.equal((await request(at, 'POST', '/actions', pause)).status, 401, 'no token: 401');
  t.equal(
    (await request(at, 'POST', '/actions', pause, 'wrong-token-of-some-length')).status,
    401,
    'a wrong token: 401',
  );
  t.same((await store.controls()).value, [], 'nothing was paused by refused requests');

  const bad = [
    ['{not json', /not valid JSON/],
    [JSON.stringify({ action: 'pause', provider: 'gogle' }), /unknown provider "gogle"; valid providers: .*google/],
    [JSON.stringify({ action: 'pause', source: 'c' }), /unknown source "c"; valid sources: a, b/],
    [JSON.stringify({ action: 'pause' }), /name a target/],
    [JSON.stringify({ action: 'stop', provider: 'google' }), /"action" must be one of pause, resume, lift, reset/],
    [JSON.stringify({ action: 'pause', provider: 'google', untill: '1h' }), /unknown field untill/],
    [JSON.stringify({ action: 'pause', provider: 'google', for: 5 }), /"for" must be a string/],
  ] as const;
  for (const [body, re] of bad) {
    const r = await request(at, 'POST', '/actions', body, TOKEN);
    t.equal(r.status, 400, `400 for ${body}`);
    t.match(r.json.error, re, String(r.json.error));
  }
  t.same((await store.controls()).value, [], 'nothing was paused by bad requests');

  const ok = await request(at, 'POST', '/actions', pause, TOKEN);
  t.equal(ok.status, 200);
  t.match(ok.json.line, /carol paused provider google for 1h \(until .*\): test/);
  const listed = await request(at, 'GET', '/controls', undefined, TOKEN);
  t.match(
    listed.json.controls,
    [{ target: { kind: 'provider', provider: 'google' }, who: 'carol', reason: 'test' }],
    'GET /controls lists it',
  );
  t.equal((await request(at, 'GET', '/nope', undefined, TOKEN)).status, 404);
  const injected = await request(
    at,
    'POST',
    '/actions',
    JSON.stringify({ action: 'pause', source: 'a', reason: 'one\nFAKE LOG LINE', who: 'x' }),
    TOKEN,
  );
  t.notMatch(injected.json.line, /\n/, 'a reason cannot add a log line');
});

t.test('the Unix socket: a stale one is replaced, a live one is not taken over', async (t) => {
  const config = buildConfig({}, YAML);
  const store = new MemoryStore();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-ctl-'));
  fs.writeFileSync(path.join(dir, 'paceline.sock'), ''); // left behind by a process that died
  const handlers = {
    controls: () => store.controls(),
    act: (req: Parameters<typeof runAction>[2]) => runAction(config, store, req),
    dashboard: () => loadDashboard(config, store, dir),
  };
  const listener = await startControlListener(config.settings.control, dir, handlers);
  t.teardown(() => listener?.close());
  const socketPath = path.join(dir, 'paceline.sock');
  const r = await request(
    { socketPath },
    'POST',
    '/actions',
    JSON.stringify({ action: 'pause', source: 'b', who: 'dave' }),
  );
  t.equal(r.status, 200, 'no token needed on the local socket');
  t.equal(fs.statSync(socketPath).mode & 0o777, 0o660, 'the socket is not world-writable');
  await t.rejects(
    startControlListener(config.settings.control, dir, handlers),
    /in use by another process/,
    'a second listener refuses to take a live socket',
  );
});
