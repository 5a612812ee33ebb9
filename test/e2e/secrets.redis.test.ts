/**
 * No secret is ever printed: a real Haraka, real redis-servers with
 * requirepass set to a password holding URL-special characters (and, for
 * Sentinel, real sentinels with their own password), and every output
 * captured — Haraka's whole log, `paceline check`, `check --connect`,
 * `status` and `status --json` run as the real command — is searched for
 * the secrets. A raw password in the URL is refused with how to encode it;
 * the percent-encoded URL, the separate password key, Sentinel and Cluster connect
 * and carry mail through Redis.
 */

import t from 'tap';
import type { Test } from 'tap';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startHaraka, type HarakaProcess } from '../helpers/haraka';
import { startReceiver, type Receiver } from '../helpers/receiver';
import { sendMail } from '../helpers/client';
import { startRedis, startRedisCluster, startSentinel } from '../helpers/redis';

const SECRET = "Qx7/@:#?%[]!$&'()*+,;= ~Zk9";
const SENTINEL_SECRET = 'Wv3/@:#?%&=;,~Jm5';
const WRONG = 'Hy4/@:#?%Bn8';
/** A secret or a piece of one: a partial mask (`***@ssW0rd@host`) is a leak too. */
const PIECES = ['Qx7', 'Zk9', 'Wv3', 'Jm5', 'Hy4', 'Bn8'];
const BIN = path.resolve(__dirname, '../../dist/bin/paceline.js');

/** Every output searched, for the report at the end: what, bytes, pieces of secrets found. */
const searched: Array<{ what: string; bytes: number; found: number }> = [];

function expectNoSecret(t: Test, what: string, text: string): void {
  const found = PIECES.filter((p) => text.includes(p));
  searched.push({ what, bytes: text.length, found: found.length });
  t.same(found, [], `${what}: no secret in ${text.length} bytes of output`);
}

/** Runs the real `paceline` command; resolves with its exit code and stdout + stderr. */
function paceline(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 99) : 0;
      resolve({ code, out: `${stdout}${stderr}` });
    });
  });
}

function files(receiver: Receiver, redisIni: string): Record<string, string> {
  return {
    'config/paceline.yaml': `
sources:
  s2: { address: 127.0.0.2, helo: s2.paceline.test }
providers:
  microsoft365: { limits: { rate: "20/s", concurrency: 10 } }
static_mx:
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${receiver.port} }
`,
    'config/paceline.ini': `[main]\nstore=redis\n[redis]\n${redisIni}\nprefix=sec${randomUUID().slice(0, 8)}\nconnect_timeout=3s\n[adapt]\nstart=1\n`,
    'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*30\nenable_tls=false\nlocal_mx_ok=true\n',
  };
}

/** All four CLI outputs for a Haraka dir, each searched; returns them by name. */
async function cli(t: Test, label: string, dir: string): Promise<Record<string, { code: number; out: string }>> {
  const runs = {
    check: await paceline('check', dir),
    connect: await paceline('check', dir, '--connect'),
    status: await paceline('status', dir),
    json: await paceline('status', dir, '--json'),
  };
  for (const [name, r] of Object.entries(runs)) expectNoSecret(t, `${label}: paceline ${name}`, r.out);
  return runs;
}

/** Starts Haraka with `redisIni`, sends one message through it, checks every output; returns the Haraka. */
async function connects(t: Test, label: string, redisIni: string): Promise<HarakaProcess> {
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const haraka = await startHaraka({
    name: `secrets-${label}`,
    plugins: ['test_relay', 'paceline'],
    files: files(receiver, redisIni),
  });
  t.teardown(() => haraka.stop());
  await haraka.waitForLog(/paceline ready/, 15_000);
  await sendMail(haraka.port, {
    from: 's@paceline.test',
    to: ['u@contoso.test'],
    messageId: `<${label}@paceline.test>`,
  });
  await receiver.waitFor(1, 30_000);
  const runs = await cli(t, label, haraka.dir);
  t.equal(runs.check?.code, 0, `${label}: check says valid\n${runs.check?.out}`);
  t.equal(runs.connect?.code, 0, `${label}: check --connect passes\n${runs.connect?.out}`);
  t.match(runs.connect?.out, /connect ok: connected to redis/, `${label}: --connect connected`);
  t.equal(runs.json?.code, 0, `${label}: status --json reads Redis\n${runs.json?.out}`);
  const status = JSON.parse(runs.json?.out ?? '{}') as {
    from: string;
    lanes: Array<{ source: string; provider: string; sentToday: number }>;
  };
  t.equal(status.from, 'redis');
  t.match(
    status.lanes,
    [{ source: 's2', provider: 'microsoft365', sentToday: 1 }],
    `${label}: the delivery was counted in Redis`,
  );
  t.notMatch(haraka.log(), /Redis connection:|falling back|local fallback/i, `${label}: Haraka never lost Redis`);
  return haraka;
}

t.test('a raw password in the URL is refused everywhere with how to encode it, and never shown', async (t) => {
  const redis = await startRedis({ password: SECRET });
  t.teardown(() => redis.stop());
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const ini = `url=redis://:${SECRET}@127.0.0.1:${redis.port}`;
  const err = await startHaraka({
    name: 'secrets-raw',
    plugins: ['test_relay', 'paceline'],
    files: files(receiver, ini),
  }).then(
    (h) => h.stop().then(() => null),
    (e: Error) => e,
  );
  t.ok(err, 'Haraka refuses to start');
  const dir = / in (\S+paceline-haraka-secrets-raw-\S+?)(?: |:)/.exec(String(err?.message))?.[1] ?? '';
  t.ok(dir, `the Haraka dir is in the error: ${dir}`);
  const fs = await import('node:fs');
  const log = fs.readFileSync(path.join(dir, 'haraka.log'), 'utf8');
  t.match(
    log,
    /\[redis\]\.url: got "redis:\/\/\*\*\*@127\.0\.0\.1:\d+", expected a URL whose user name and password are percent-encoded/,
  );
  expectNoSecret(t, 'raw url: Haraka log (refused start)', log);
  expectNoSecret(t, 'raw url: startHaraka error', String(err?.message));
  const runs = await cli(t, 'raw url', dir);
  for (const name of ['check', 'connect', 'status', 'json']) {
    t.equal(runs[name]?.code, 1, `${name} exits 1`);
    t.match(runs[name]?.out, /"\/" as %2F, "@" as %40/, `${name} says how to percent-encode`);
  }
});

t.test('a percent-encoded password in the URL connects; nothing shows it', async (t) => {
  const redis = await startRedis({ password: SECRET });
  t.teardown(() => redis.stop());
  const haraka = await connects(t, 'encoded url', `url=redis://:${encodeURIComponent(SECRET)}@127.0.0.1:${redis.port}`);
  t.match(
    haraka.log(),
    /paceline ready: .*redis redis:\/\/\*\*\*@127\.0\.0\.1:\d+, prefix/,
    'the ready line shows the masked URL',
  );
  expectNoSecret(t, 'encoded url: Haraka log', haraka.log());
});

t.test(
  'the raw password in [redis].password connects; a wrong one is refused by --connect; nothing shows either',
  async (t) => {
    const redis = await startRedis({ password: SECRET });
    t.teardown(() => redis.stop());
    const haraka = await connects(t, 'password key', `url=redis://127.0.0.1:${redis.port}\npassword=${SECRET}`);
    expectNoSecret(t, 'password key: Haraka log', haraka.log());

    const receiver = await startReceiver();
    t.teardown(() => receiver.close());
    const wrong = await startHaraka({
      name: 'secrets-wrong',
      plugins: ['test_relay', 'paceline'],
      files: files(receiver, `url=redis://:${encodeURIComponent(WRONG)}@127.0.0.1:${redis.port}`),
    });
    t.teardown(() => wrong.stop());
    await wrong.waitForLog(/Redis connection: .*WRONGPASS/, 20_000);
    const runs = await cli(t, 'wrong password', wrong.dir);
    t.equal(runs.connect?.code, 1, `check --connect fails\n${runs.connect?.out}`);
    t.match(runs.connect?.out, /connect error: cannot use redis redis:\/\/\*\*\*@127\.0\.0\.1:\d+.*WRONGPASS/);
    t.equal(runs.status?.code, 1, 'status fails');
    expectNoSecret(t, 'wrong password: Haraka log', wrong.log());
  },
);

t.test('Sentinel with passwords on the sentinels and the master: connects; nothing shows them', async (t) => {
  const setup = await startSentinel({ password: SECRET, sentinelPassword: SENTINEL_SECRET });
  t.teardown(() => setup.stop());
  const sentinels = setup.sentinels.map((s) => `${s.host}:${s.port}`).join(',');
  const ini = `sentinel_name=${setup.name}\nsentinels=${sentinels}\nsentinel_password=${SENTINEL_SECRET}\npassword=${SECRET}`;
  const haraka = await connects(t, 'sentinel', ini);
  t.match(haraka.log(), /paceline ready: .*redis sentinel master paceline via 127\.0\.0\.1:\d+/);
  expectNoSecret(t, 'sentinel: Haraka log', haraka.log());
});

t.test('Cluster with a password on every node: connects; nothing shows it', async (t) => {
  const cluster = await startRedisCluster({ masters: 3, password: SECRET });
  t.teardown(() => cluster.stop());
  const haraka = await connects(
    t,
    'cluster',
    `cluster=${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}\npassword=${SECRET}`,
  );
  t.match(haraka.log(), /paceline ready: .*redis cluster 127\.0\.0\.1:\d+/);
  expectNoSecret(t, 'cluster: Haraka log', haraka.log());
});

t.test('report: outputs searched', async (t) => {
  t.ok(searched.length >= 20, `${searched.length} outputs searched`);
  t.comment(
    ['output | bytes | pieces of secrets found', ...searched.map((s) => `${s.what} | ${s.bytes} | ${s.found}`)].join(
      '\n',
    ),
  );
  t.equal(
    searched.reduce((n, s) => n + s.found, 0),
    0,
    'no secret in any output',
  );
});
