/**
 * Leases in flight on a real Haraka and a real Redis, with a short lease_ttl
 * (3-5 s, renewed every third of it): a delivery that runs longer than
 * lease_ttl keeps its slot (its lease is renewed), and the slots of a node
 * killed for good free by themselves within lease_ttl, for the other nodes.
 */
import t from 'tap';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { startHaraka } from '../helpers/haraka';
import { startReceiver, type ReplyContext } from '../helpers/receiver';
import { sendMany, type MailSpec } from '../helpers/client';
import { command, startRedis } from '../helpers/redis';

function files(
  port: number,
  redisUrl: string,
  prefix: string,
  concurrency: number,
  ttl: string,
): Record<string, string> {
  return {
    'config/paceline.yaml': `
sources:
  s2: { address: 127.0.0.2, helo: s2.paceline.test }
providers:
  microsoft365: { limits: { concurrency: ${concurrency} } }
static_mx:
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${port} }
`,
    'config/paceline.ini': `[main]\nlog_decisions=false\nstore=redis\nlease_ttl=${ttl}\n[redis]\nurl=${redisUrl}\nprefix=${prefix}\n[adapt]\nstart=1\n`,
    'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*60\nenable_tls=false\nlocal_mx_ok=true\n',
  };
}

const mails = (tag: string, n: number): MailSpec[] =>
  Array.from({ length: n }, (_, j) => ({
    from: 's@paceline.test',
    to: [`${tag}${j}@contoso.test`],
    messageId: `<${tag}-${j}@paceline.test>`,
  }));

async function leaseExpiries(port: number, prefix: string): Promise<Map<string, number>> {
  const flat = (await command(port, 'ZRANGE', `${prefix}:v1:l:{s2|microsoft365}`, 0, -1, 'WITHSCORES')) as string[];
  const out = new Map<string, number>();
  for (let i = 0; i < flat.length; i += 2) out.set(flat[i] as string, Number(flat[i + 1]));
  return out;
}

/** A receiver that answers DATA after `delayOf(ctx)` ms and notes every MAIL FROM and how many sessions were open. */
async function slowReceiver(delayOf: (ctx: ReplyContext) => number) {
  const open = new Set<string>();
  const starts: Array<{ at: number; open: number; rcpt: string }> = [];
  const receiver = await startReceiver({
    onConnect: (ctx) => void open.add(ctx.sessionId),
    onClose: (ctx) => void open.delete(ctx.sessionId),
    reply: (ctx) => {
      if (ctx.stage === 'rcpt')
        starts.push({ at: ctx.now, open: open.size, rcpt: ctx.rcptTo[ctx.rcptTo.length - 1] as string });
      return null;
    },
    delay: (ctx) => (ctx.stage === 'data' ? delayOf(ctx) : 0),
  });
  return { receiver, starts };
}

t.test('a delivery longer than lease_ttl keeps its slot: its lease is renewed while it runs', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const prefix = `l${randomUUID().slice(0, 8)}`;
  const LONG = 9000;
  const { receiver, starts } = await slowReceiver((ctx) => (ctx.rcptTo[0]?.startsWith('long') ? LONG : 0));
  t.teardown(() => receiver.close());
  const h = await startHaraka({
    name: 'lease-long',
    plugins: ['test_relay', 'paceline'],
    files: files(receiver.port, redis.url, prefix, 1, '3s'),
  });
  t.teardown(() => h.stop());
  await sendMany(h.port, mails('long', 1), 1);
  const began = Date.now() + 20_000;
  while (starts.length === 0 && Date.now() < began) await new Promise((r) => setTimeout(r, 50));
  await sendMany(h.port, mails('next', 3), 3);
  const samples: number[] = [];
  for (let i = 0; i < 7; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const leases = [...(await leaseExpiries(redis.port, prefix)).values()];
    if (leases.length > 0) samples.push(Math.max(...leases));
  }
  await receiver.waitFor(4, 60_000);
  const long = receiver.deliveries.find((d) => d.rcptTo[0]?.startsWith('long'));
  const firstNext = Math.min(...starts.filter((s) => s.rcpt.startsWith('next')).map((s) => s.at));
  t.ok(
    long && firstNext >= long.receivedAt - 50,
    `no other delivery began while the ${LONG / 1000} s one ran (next began ${((firstNext - (long?.receivedAt ?? 0)) / 1000).toFixed(1)} s after it ended)`,
  );
  t.ok(
    starts.every((s) => s.open <= 1),
    `never two sessions at once on a lane of concurrency 1 (${starts.map((s) => s.open).join(',')})`,
  );
  const renewed = samples.filter((x, i) => i > 0 && x > (samples[i - 1] as number)).length;
  t.ok(
    samples.length >= 5 && renewed >= 3,
    `the lease's expiry moved on while the delivery ran (${renewed} renewals seen in ${samples.length} samples 1 s apart)`,
  );
  t.ok(samples.length > 0 && Math.max(...samples) - Math.min(...samples) >= 3000, 'by more than lease_ttl in all');
});

t.test(
  'a node killed for good: its slots free within lease_ttl for the other nodes, not before its leases expire',
  async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const prefix = `g${randomUUID().slice(0, 8)}`;
    const TTL_MS = 5000;
    const { receiver, starts } = await slowReceiver((ctx) => (ctx.rcptTo[0]?.startsWith('dead') ? 30_000 : 0));
    t.teardown(() => receiver.close());
    const conf = files(receiver.port, redis.url, prefix, 2, '5s');
    const [a, b] = await Promise.all([
      startHaraka({ name: 'lease-a', plugins: ['test_relay', 'paceline'], files: conf }),
      startHaraka({ name: 'lease-b', plugins: ['test_relay', 'paceline'], files: conf }),
    ]);
    t.teardown(() => Promise.all([a.stop(), b.stop()]));
    await sendMany(a.port, mails('dead', 2), 2);
    const until = Date.now() + 20_000;
    while (starts.length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    t.equal(starts.length, 2, 'node A has both slots in flight');
    await new Promise((r) => setTimeout(r, 2500)); // A renews its leases at least once
    const held = await leaseExpiries(redis.port, prefix);
    await a.stop('SIGKILL');
    const killed = Date.now();
    await sendMany(b.port, mails('live', 4), 4);
    await receiver.waitFor(4, 60_000);
    const firstLive = Math.min(...starts.filter((s) => s.rcpt.startsWith('live')).map((s) => s.at));
    const waitS = (firstLive - killed) / 1000;
    const lastExpiry = Math.max(...held.values());
    t.equal(held.size, 2, 'A held two leases at the kill');
    t.ok(
      waitS <= TTL_MS / 1000 + 5,
      `node B's first delivery began ${waitS.toFixed(1)} s after the kill (lease_ttl ${TTL_MS / 1000} s)`,
    );
    t.ok(
      firstLive >= Math.min(...held.values()) - 100,
      `and not before A's first lease expired (${((Math.min(...held.values()) - killed) / 1000).toFixed(1)} s after the kill)`,
    );
    const left = [...(await leaseExpiries(redis.port, prefix)).keys()].filter((id) => held.has(id));
    t.same(
      left,
      [],
      `none of A's leases is left (the last expired ${((lastExpiry - killed) / 1000).toFixed(1)} s after the kill)`,
    );
    t.comment(
      `figures: B waited ${waitS.toFixed(1)} s after the kill, lease_ttl ${TTL_MS / 1000} s; load ${fs.readFileSync('/proc/loadavg', 'utf8').trim()}`,
    );
  },
);

t.test(
  "cluster mode: the workers share their node's boot; a worker killed and forked again releases none of its siblings' leases",
  async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const prefix = `c${randomUUID().slice(0, 8)}`;
    const { receiver, starts } = await slowReceiver(() => 10_000);
    t.teardown(() => receiver.close());
    const h = await startHaraka({
      name: 'lease-cluster',
      nodes: 2,
      plugins: ['test_relay', 'paceline'],
      files: files(receiver.port, redis.url, prefix, 4, '60s'),
    });
    t.teardown(() => h.stop());
    const released = /boot ([A-Za-z0-9_-]+): released (\d+) leases of its earlier boots/g;
    const boots = () => [...h.log().matchAll(released)].map((m) => ({ boot: m[1] as string, n: Number(m[2]) }));
    await h.waitForLog(/boot [\w-]+: released \d+ leases[\s\S]*boot [\w-]+: released \d+ leases/, 20_000);
    await sendMany(h.port, mails('c', 4), 4);
    const until = Date.now() + 20_000;
    while (starts.length < 4 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    const before = [...(await leaseExpiries(redis.port, prefix)).keys()].sort();
    const workers = execFileSync('ps', ['-o', 'pid=', '--ppid', String(h.pid)], { encoding: 'utf8' })
      .split('\n')
      .map((x) => Number(x.trim()))
      .filter((x) => x > 0);
    t.equal(workers.length, 2, 'two workers');
    process.kill(workers[0] as number, 'SIGKILL');
    await h.waitForLog(/(?:released \d+ leases of its earlier boots[\s\S]*){3}/, 30_000);
    const after = [...(await leaseExpiries(redis.port, prefix)).keys()].sort();
    const seen = boots();
    t.equal(seen.length, 3, 'both workers and the replacement released at start');
    t.equal(new Set(seen.map((b) => b.boot)).size, 1, `all three share the node's boot (${seen[0]?.boot})`);
    t.same(
      seen.map((b) => b.n),
      [0, 0, 0],
      'none of them released a lease',
    );
    t.ok(before.length === 4, `four leases in flight before the kill (${before.length})`);
    t.same(after, before, "every lease, the live sibling's included, is still there after the replacement started");
  },
);
