/**
 * `paceline check` closes the holes where it said "valid" for what Haraka
 * refuses or silently changes, and `check --connect` tries the store: real
 * Haraka directories on disk, the real `paceline` command, real redis-servers
 * (standalone and Cluster) with each eviction policy.
 */

import t from 'tap';
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { command, startRedis, startRedisCluster } from '../helpers/redis';
import { freePort } from '../helpers/ports';

const BIN = path.resolve(__dirname, '../../dist/bin/paceline.js');

function paceline(...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 99) : 0, out: `${stdout}${stderr}` });
    });
  });
}

const dirs: string[] = [];
t.teardown(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A Haraka directory with these config files (name → content). */
function harakaDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-check-'));
  dirs.push(dir);
  fs.mkdirSync(path.join(dir, 'config'));
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, 'config', name), content);
  return dir;
}

const YAML = 'sources:\n  s2: { address: 127.0.0.2 }\npools:\n  default: { sources: [s2] }\n';

t.test('check refuses what it used to call valid', async (t) => {
  const holes: Array<{ what: string; args: string[]; code: number; says: RegExp }> = [
    {
      what: 'a directory that does not exist',
      args: ['/nonexistent/haraka'],
      code: 2,
      says: /\/nonexistent\/haraka is not a Haraka directory \(no config\/ directory in it\)/,
    },
    {
      what: 'an unknown option',
      args: ['--bogus'],
      code: 2,
      says: /unknown option "--bogus"\nusage: paceline check \[--config HARAKA_DIR \| HARAKA_DIR\] \[--connect\]/,
    },
    { what: 'two directories', args: [harakaDir({}), harakaDir({})], code: 2, says: /one Haraka directory at most/ },
    {
      what: 'smtp.ini nodes=2 with store=memory (Haraka refuses to start)',
      args: [harakaDir({ 'smtp.ini': '[main]\nnodes=2\n', 'paceline.yaml': YAML })],
      code: 1,
      says: /smtp\.ini: \[main\]\.nodes: got 2, expected at most 1 with store=memory \(.*store=redis/,
    },
    {
      what: 'bad [redis] keys with store=memory',
      args: [
        harakaDir({
          'paceline.ini': '[main]\nstore=memory\n[redis]\nurl=http://r.example\ncommand_timeout=forever\n',
          'paceline.yaml': YAML,
        }),
      ],
      code: 1,
      says: /\[redis\]\.url: got "http:\/\/r\.example", expected a URL starting with redis:\/\/[\s\S]*\[redis\]\.command_timeout: got "forever"/,
    },
    {
      what: 'a provider, source and pool named __proto__, constructor, prototype (haraka-config drops them)',
      args: [
        harakaDir({
          'paceline.yaml': `${YAML}  prototype: { sources: [s2] }\n  constructor: { sources: [s2] }\nproviders:\n  __proto__: { mx: [mx.a.example] }\n`,
        }),
      ],
      code: 1,
      says: /line 5: got "prototype", expected a name other than __proto__, constructor or prototype[\s\S]*line 6: got "constructor"[\s\S]*line 8: got "__proto__"/,
    },
    {
      what: 'a provider named toString without mx (read as a built-in provider)',
      args: [harakaDir({ 'paceline.yaml': `${YAML}providers:\n  toString: { limits: { rate: 1/s } }\n` })],
      code: 1,
      says: /providers\.toString\.mx: got nothing, expected a list of MX host suffixes/,
    },
    {
      what: 'an unreadable tls_ca',
      args: [
        harakaDir({
          'paceline.ini': '[main]\nstore=redis\n[redis]\nurl=rediss://127.0.0.1:6380\ntls_ca=/nonexistent/ca.pem\n',
          'paceline.yaml': YAML,
        }),
      ],
      code: 1,
      says: /\[redis\]\.tls_ca: got "\/nonexistent\/ca\.pem", expected a readable PEM file/,
    },
  ];
  for (const h of holes) {
    const r = await paceline('check', ...h.args);
    t.equal(r.code, h.code, `${h.what}: exit ${h.code}\n${r.out}`);
    t.match(r.out, h.says, `${h.what}: says why`);
    t.notMatch(r.out, /is valid/, `${h.what}: not "valid"`);
  }
  const ok = await paceline('check', harakaDir({ 'smtp.ini': '[main]\nnodes=1\n', 'paceline.yaml': YAML }));
  t.equal(ok.code, 0, `a good dir (nodes=1) is still valid\n${ok.out}`);
  t.match(ok.out, /is valid; every source address binds on this host\nstore: memory;/);
  const memory = await paceline('check', harakaDir({ 'paceline.yaml': YAML }), '--connect');
  t.equal(memory.code, 0, memory.out);
  t.match(memory.out, /connect: store=memory, nothing to connect to/);
});

t.test('check warns about a renamed key, names the new one, and still passes', async (t) => {
  const dir = harakaDir({ 'paceline.ini': '[main]\nmax_hold=1h\n[adapt]\nprobe_interval=2h\n', 'paceline.yaml': YAML });
  const r = await paceline('check', dir);
  t.equal(r.code, 0, `valid, with warnings\n${r.out}`);
  t.match(r.out, /warning: paceline\.ini: \[main\] max_hold is deprecated: use max_delay\n/);
  t.match(r.out, /warning: paceline\.ini: \[adapt\] probe_interval is deprecated: use trial_interval\n/);
  t.match(r.out, /max_delay: 1h/, "the old key's value is used over the shipped default (72h)");
  const fresh = await paceline('check', harakaDir({ 'paceline.ini': '[main]\nmax_delay=1h\n', 'paceline.yaml': YAML }));
  t.equal(fresh.code, 0, fresh.out);
  t.notMatch(fresh.out, /warning/, 'the new names warn about nothing');
});

function redisDir(redisIni: string): string {
  return harakaDir({
    'paceline.ini': `[main]\nstore=redis\n[redis]\n${redisIni}\nconnect_timeout=2s\n`,
    'paceline.yaml': YAML,
  });
}

t.test('check --connect: reachability and the eviction policy of a real Redis', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const dir = redisDir(`url=${redis.url}`);
  const policies: Array<{ policy: string; code: number; says: RegExp }> = [
    {
      policy: 'noeviction',
      code: 0,
      says: /connect ok: redis: maxmemory-policy noeviction \(no maxmemory\): pacing keys are never evicted/,
    },
    {
      policy: 'volatile-lru',
      code: 0,
      says: /connect warning: redis: maxmemory-policy volatile-lru \(maxmemory 104857600 bytes\): pacing keys carry a TTL/,
    },
    {
      policy: 'allkeys-lru',
      code: 1,
      says: /connect error: redis: maxmemory-policy allkeys-lru .*set maxmemory-policy noeviction/,
    },
    { policy: 'allkeys-random', code: 1, says: /connect error: redis: maxmemory-policy allkeys-random/ },
  ];
  for (const p of policies) {
    await command(redis.port, 'CONFIG', 'SET', 'maxmemory-policy', p.policy);
    await command(redis.port, 'CONFIG', 'SET', 'maxmemory', p.policy === 'noeviction' ? '0' : '100mb');
    const r = await paceline('check', dir, '--connect');
    t.equal(r.code, p.code, `${p.policy}: exit ${p.code}\n${r.out}`);
    t.match(r.out, /connect ok: connected to redis redis:\/\/127\.0\.0\.1:\d+/, `${p.policy}: connected`);
    t.match(r.out, new RegExp(`connect ok: redis: answers PONG \\(Redis \\d+\\.\\d+`), `${p.policy}: answers`);
    t.match(r.out, p.says, `${p.policy}: judged`);
  }
  const closed = await freePort();
  const down = await paceline('check', redisDir(`url=redis://127.0.0.1:${closed}`), '--connect');
  t.equal(down.code, 1, `nothing listening: exit 1\n${down.out}`);
  t.match(
    down.out,
    /connect error: cannot use redis redis:\/\/127\.0\.0\.1:\d+.*not ready after 2000 ms: .*ECONNREFUSED/,
  );
  const valid = await paceline('check', redisDir(`url=redis://127.0.0.1:${closed}`));
  t.equal(valid.code, 0, 'without --connect the same dir is valid (the file is fine)');
});

t.test('check --connect on a Redis Cluster checks every master', async (t) => {
  const cluster = await startRedisCluster({ masters: 3 });
  t.teardown(() => cluster.stop());
  await command(cluster.nodes[1]?.port as number, 'CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lfu');
  const r = await paceline(
    'check',
    redisDir(`cluster=${cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')}`),
    '--connect',
  );
  t.equal(r.code, 1, `one master may evict: exit 1\n${r.out}`);
  t.equal(
    (r.out.match(/connect ok: cluster master 127\.0\.0\.1:\d+: answers PONG/g) ?? []).length,
    3,
    'every master answered',
  );
  t.equal((r.out.match(/connect ok: cluster master .*noeviction/g) ?? []).length, 2, 'two masters never evict');
  t.match(
    r.out,
    new RegExp(`connect error: cluster master 127\\.0\\.0\\.1:${cluster.nodes[1]?.port}: maxmemory-policy allkeys-lfu`),
    'the third is named',
  );
});

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl in a temp dir. */
function certificates(): Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-tls-'));
  dirs.push(dir);
  const f = (name: string) => path.join(dir, name);
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '2',
    '-subj',
    '/CN=paceline test CA',
  );
  fs.writeFileSync(f('san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  for (const who of ['server', 'client']) {
    run(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      f(`${who}.key`),
      '-out',
      f(`${who}.csr`),
      '-subj',
      `/CN=paceline test ${who}`,
    );
    run(
      'x509',
      '-req',
      '-in',
      f(`${who}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f(`${who}.pem`),
      '-days',
      '2',
      '-extfile',
      f('san.ext'),
    );
  }
  return {
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  };
}

t.test(
  'check --connect over TLS: a trusted CA and a client certificate connect; what is missing is named',
  async (t) => {
    const c = certificates();
    const tlsPort = await freePort();
    // the plain port stays for the test helpers' PING; paceline uses the TLS port, which asks for a client certificate
    const redis = await startRedis({
      args: [
        '--tls-port',
        String(tlsPort),
        '--tls-cert-file',
        c.serverCert,
        '--tls-key-file',
        c.serverKey,
        '--tls-ca-cert-file',
        c.ca,
        '--tls-auth-clients',
        'yes',
      ],
    });
    t.teardown(() => redis.stop());
    const url = `url=rediss://127.0.0.1:${tlsPort}`;
    const ok = await paceline(
      'check',
      redisDir(`${url}\ntls_ca=${c.ca}\ntls_cert=${c.clientCert}\ntls_key=${c.clientKey}`),
      '--connect',
    );
    t.equal(ok.code, 0, `CA, client certificate and key: exit 0\n${ok.out}`);
    t.match(
      ok.out,
      /connect ok: connected to redis rediss:\/\/127\.0\.0\.1:\d+ \(TLS\)[\s\S]*connect ok: TLS: connected over TLS[\s\S]*answers PONG/,
    );
    const untrusted = await paceline(
      'check',
      redisDir(`${url}\ntls_cert=${c.clientCert}\ntls_key=${c.clientKey}`),
      '--connect',
    );
    t.equal(untrusted.code, 1, `without tls_ca the server's certificate is not trusted: exit 1\n${untrusted.out}`);
    t.match(untrusted.out, /connect error: cannot use redis rediss:.*(self[- ]signed|unable to verify|certificate)/i);
    const anonymous = await paceline('check', redisDir(`${url}\ntls_ca=${c.ca}`), '--connect');
    t.equal(anonymous.code, 1, `without a client certificate the server refuses: exit 1\n${anonymous.out}`);
    const plain = await paceline('check', redisDir(`url=redis://127.0.0.1:${tlsPort}`), '--connect');
    t.equal(plain.code, 1, `plain TCP to the TLS port: exit 1\n${plain.out}`);
    const half = await paceline('check', redisDir(`${url}\ntls_cert=${c.clientCert}`));
    t.equal(half.code, 1, 'tls_cert without tls_key is invalid');
    t.match(half.out, /\[redis\]\.tls_key: got nothing, expected both tls_cert and tls_key/);
    const gone = await paceline(
      'check',
      redisDir(`${url}\ntls_cert=${c.clientCert}\ntls_key=/nonexistent/secret-dir/client.key`),
    );
    t.equal(gone.code, 1, 'an unreadable tls_key is invalid');
    t.match(gone.out, /\[redis\]\.tls_key: got "\*\*\*", expected a readable PEM file/);
    t.notMatch(gone.out, /secret-dir/, 'and its path is not shown');
  },
);
