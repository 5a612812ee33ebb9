/**
 * The Prometheus endpoint of a cluster-mode Haraka (two workers, Redis store):
 * scraped during and after a run, its exposition parses strictly, the
 * counters summed over both workers match what the receiver saw (deliveries,
 * refusals by category, one send decision per attempt), and destinations
 * outside the known providers share the one label value `other`.
 */
import t from 'tap';
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import { startReceiver } from '../helpers/receiver';
import { startRedis } from '../helpers/redis';
import { startHaraka } from '../helpers/haraka';
import { freePort } from '../helpers/ports';
import { sendMany, type MailSpec } from '../helpers/client';
import { labelValues, parseExposition, total, type Family } from '../helpers/prom';

/** Known-provider messages, of which REFUSED go to a mailbox the receiver refuses with 550 5.1.1. */
const KNOWN = 40;
const REFUSED = 8;
/** Destinations no provider rule matches: each its own lane (`mx:...`), all labelled `other`. */
const UNKNOWN_DOMAINS = 10;
const PER_UNKNOWN = 2;
const TOTAL = KNOWN + UNKNOWN_DOMAINS * PER_UNKNOWN;

function scrape(port: number, token?: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', headers, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('scrape timed out')));
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

t.test('metrics of a two-worker Haraka add up to what the receiver saw', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const receiver = await startReceiver({
    reply: (ctx) =>
      ctx.stage === 'rcpt' && ctx.rcptTo.at(-1)?.startsWith('nobody')
        ? { code: 550, message: '5.1.1 User unknown' }
        : null,
  });
  t.teardown(() => receiver.close());
  const metricsPort = await freePort();
  const unknown = Array.from({ length: UNKNOWN_DOMAINS }, (_, i) => `d${i}.example.test`);
  const staticMx = [
    `  contoso.test:\n    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${receiver.port} }`,
    ...unknown.map((d) => `  ${d}:\n    - { host: mx.${d}, address: 127.0.0.1, port: ${receiver.port} }`),
  ].join('\n');
  const haraka = await startHaraka({
    name: 'metrics',
    nodes: 2,
    plugins: ['test_relay', 'paceline'],
    files: {
      'config/paceline.yaml': `
sources:
  s2: { address: 127.0.0.2, helo: s2.paceline.test }
  s3: { address: 127.0.0.3, helo: s3.paceline.test }
providers:
  microsoft365: { limits: { rate: "40/s,burst=10", concurrency: 20 } }
defaults:
  limits: { rate: "40/s,burst=10", concurrency: 20 }
static_mx:
${staticMx}
`,
      'config/paceline.ini':
        // a worker's event loop can stall for more than the default 500 ms while it boots on a
        // loaded machine, and a command that times out then moves it to the fallback
        `[main]\nstore=redis\n[redis]\nurl=${redis.url}\nprefix=m${randomUUID().slice(0, 8)}\ncommand_timeout=2s\n` +
        `[adapt]\nstart=1\n[metrics]\nlisten=127.0.0.1:${metricsPort}\n`,
      'config/outbound.ini':
        '[main]\ntemp_fail_intervals=5s*60\nenable_tls=false\nlocal_mx_ok=true\nconcurrency_max=100\n',
    },
  });
  t.teardown(() => haraka.stop());
  await haraka.waitForLog(/paceline: metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/, 20_000);
  const ready = await until(
    'two workers ready',
    async () => ((haraka.log().match(/paceline ready/g) ?? []).length >= 2 ? true : undefined),
    30_000,
  );
  t.ok(ready, 'both workers loaded paceline');

  const before = await scrape(metricsPort);
  t.equal(before.status, 200, 'the endpoint answers before any mail');
  t.match(before.type, /^text\/plain; version=0\.0\.4/, 'in the Prometheus text format');
  t.equal(total(parseExposition(before.body), 'paceline_deliveries_total'), 0, 'nothing delivered yet');

  const msgs: MailSpec[] = [];
  for (let i = 0; i < KNOWN; i++) {
    const user = i < REFUSED ? `nobody${i}` : `u${i}`;
    msgs.push({ from: 's@paceline.test', to: [`${user}@contoso.test`], messageId: `<k${i}@paceline.test>` });
  }
  unknown.forEach((d, i) => {
    for (let j = 0; j < PER_UNKNOWN; j++)
      msgs.push({ from: 's@paceline.test', to: [`u${j}@${d}`], messageId: `<x${i}-${j}@paceline.test>` });
  });
  // several connections at once: node's cluster hands them to both workers
  const submitted = sendMany(haraka.port, msgs, 8);

  // during the run: a scrape that parses and never counts more than the receiver has seen
  await receiver.waitFor(10, 60_000);
  const during = await scrape(metricsPort);
  const seenAfter = receiver.deliveries.length;
  const mid = parseExposition(during.body);
  const midDelivered = total(mid, 'paceline_deliveries_total');
  t.ok(midDelivered <= seenAfter, `during the run: ${midDelivered} delivered counted, the receiver had ${seenAfter}`);

  await submitted;
  const expected = TOTAL - REFUSED;
  await receiver.waitFor(expected, 90_000);
  await until('every refusal', async () => (receiver.rejections.length >= REFUSED ? true : undefined), 60_000);
  // the outcome hooks run just after the receiver answers: wait for the counters to catch up
  let last: Map<string, Family> = new Map();
  await until(
    'the counters to reach the receiver',
    async () => {
      last = parseExposition((await scrape(metricsPort)).body);
      const done =
        total(last, 'paceline_deliveries_total') >= expected && total(last, 'paceline_replies_total') >= REFUSED;
      return done ? true : undefined;
    },
    30_000,
  ).catch(() => undefined);
  const f = last;

  // exposition: every paceline family documented, typed, with its samples
  const names = [...f.keys()].filter((n) => n.startsWith('paceline_')).sort();
  t.same(
    names,
    [
      'paceline_decision_seconds',
      'paceline_decisions_total',
      'paceline_deliveries_total',
      'paceline_lane_pace_factor',
      'paceline_lanes',
      'paceline_replies_total',
      'paceline_store_errors_total',
      'paceline_store_fallback',
      'paceline_warmup_cap',
      'paceline_warmup_sent',
    ],
    'the paceline families',
  );
  t.equal(f.get('paceline_decisions_total')?.type, 'counter');
  t.equal(f.get('paceline_decision_seconds')?.type, 'histogram');
  t.equal(f.get('paceline_lane_pace_factor')?.type, 'gauge');

  // counters add up to the receiver, over both workers
  const delivered = receiver.deliveries.length;
  t.equal(delivered, expected, `the receiver accepted ${expected}`);
  t.equal(total(f, 'paceline_deliveries_total'), delivered, 'deliveries counted = messages the receiver accepted');
  t.equal(
    total(f, 'paceline_replies_total', { category: 'recipient' }),
    receiver.rejections.length,
    "recipient refusals counted = the receiver's 550s",
  );
  t.equal(total(f, 'paceline_replies_total'), REFUSED, 'no other failed attempt counted');
  t.equal(total(f, 'paceline_decisions_total', { action: 'send' }), TOTAL, 'one send decision per attempt');
  const decisions = total(f, 'paceline_decisions_total');
  t.equal(
    total(f, 'paceline_decision_seconds', {}, 'paceline_decision_seconds_count'),
    decisions,
    'every decision timed',
  );
  const inf = total(f, 'paceline_decision_seconds', { le: '+Inf' }, 'paceline_decision_seconds_bucket');
  t.equal(inf, decisions, 'the +Inf bucket holds every decision');

  // both workers delivered: a sum, not one worker's numbers
  const byPid = new Map<string, number>();
  for (const m of haraka
    .log()
    .matchAll(/\[(?:NOTICE|INFO)\] \[[^\]]*\] \[outbound\] .*?delivered file=\d+_\d+_\d+_(\d+)_/g)) {
    byPid.set(m[1] as string, (byPid.get(m[1] as string) ?? 0) + 1);
  }
  t.ok(byPid.size >= 2, `deliveries by worker pid (from Haraka's log): ${JSON.stringify([...byPid])}`);

  // bounded labels: configured names, and `other` for every unknown destination together
  t.same(
    labelValues(f, 'paceline_deliveries_total', 'provider'),
    ['microsoft365', 'other'],
    'providers: the configured one and other',
  );
  t.ok(
    labelValues(f, 'paceline_deliveries_total', 'source').every((s) => s === 's2' || s === 's3'),
    'sources: configured names only',
  );
  t.equal(
    total(f, 'paceline_deliveries_total', { provider: 'other' }),
    UNKNOWN_DOMAINS * PER_UNKNOWN,
    'unknown destinations counted under other',
  );
  t.ok(
    labelValues(f, 'paceline_lane_pace_factor', 'provider').every((p) => p === 'microsoft365' || p === 'other'),
    'pace gauge labels bounded too',
  );
  const laneCount = total(f, 'paceline_lanes');
  t.ok(laneCount > 4, `paceline_lanes counts every lane (${laneCount}), more than the 4 label sets`);
  t.equal(total(f, 'paceline_lanes', { state: 'ok' }), laneCount, 'every lane ok (no reaction to mailbox refusals)');
  t.equal(total(f, 'paceline_store_fallback'), 0, 'no worker in fallback');
  t.equal(total(f, 'paceline_store_errors_total'), 0, 'no store errors');
});

t.test(
  'Redis away mid-run: both workers show in paceline_store_fallback, errors counted, both cleared when it is back',
  async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const receiver = await startReceiver();
    t.teardown(() => receiver.close());
    const metricsPort = await freePort();
    const haraka = await startHaraka({
      name: 'metrics-outage',
      nodes: 2,
      plugins: ['test_relay', 'paceline'],
      files: {
        'config/paceline.yaml': `
sources:
  s2: { address: 127.0.0.2, helo: s2.paceline.test }
providers:
  microsoft365: { limits: { rate: "20/s,burst=5", concurrency: 10 } }
static_mx:
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${receiver.port} }
`,
        'config/paceline.ini':
          `[main]\nstore=redis\nlog_decisions=false\n[redis]\nurl=${redis.url}\nprefix=o${randomUUID().slice(0, 8)}\n` +
          'on_store_error=local\ncluster_size=2\ncommand_timeout=2s\nretry_after=2s\n' +
          `[adapt]\nstart=1\n[metrics]\nlisten=127.0.0.1:${metricsPort}\n`,
        'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*60\nenable_tls=false\nlocal_mx_ok=true\n',
      },
    });
    t.teardown(() => haraka.stop());
    await haraka.waitForLog(/paceline: metrics on http/, 20_000);
    await until(
      'two workers ready',
      async () => ((haraka.log().match(/paceline ready/g) ?? []).length >= 2 ? true : undefined),
      30_000,
    );
    const healthy = parseExposition((await scrape(metricsPort)).body);
    t.equal(total(healthy, 'paceline_store_fallback'), 0, 'shared pacing at first');
    t.equal(total(healthy, 'paceline_store_errors_total'), 0, 'no store errors at first');

    await redis.kill();
    const msgs: MailSpec[] = Array.from({ length: 10 }, (_, i) => ({
      from: 's@paceline.test',
      to: [`u${i}@contoso.test`],
      messageId: `<o${i}@paceline.test>`,
    }));
    await sendMany(haraka.port, msgs, 4);
    // a scrape itself reads the store in each worker: within a couple of scrapes both are in fallback
    const down = await until(
      'both workers in fallback',
      async () => {
        const f = parseExposition((await scrape(metricsPort)).body);
        return total(f, 'paceline_store_fallback') === 2 ? f : undefined;
      },
      30_000,
    );
    t.equal(total(down, 'paceline_store_fallback'), 2, 'both workers answer from on_store_error');
    const errors = total(down, 'paceline_store_errors_total');
    t.ok(errors >= 2, `store errors counted over both workers (${errors})`);
    await receiver.waitFor(msgs.length, 60_000);
    t.equal(receiver.deliveries.length, msgs.length, 'mail kept moving meanwhile');

    await redis.restart();
    const back = await until(
      'shared pacing again',
      async () => {
        const f = parseExposition((await scrape(metricsPort)).body);
        return total(f, 'paceline_store_fallback') === 0 ? f : undefined;
      },
      30_000,
    );
    t.equal(total(back, 'paceline_store_fallback'), 0, 'no worker in fallback once Redis answers');
    t.ok(total(back, 'paceline_store_errors_total') >= errors, 'the error counter did not go back');
  },
);
