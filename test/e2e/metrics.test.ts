/**
 * The Prometheus endpoint of a single-process Haraka (nodes=0, memory store)
 * behind a token: a scrape without it is refused, and with it the counters
 * match what the receiver saw (deliveries, a recipient refusal).
 */
import t from 'tap';
import http from 'node:http';
import { startReceiver } from '../helpers/receiver';
import { startHaraka } from '../helpers/haraka';
import { freePort } from '../helpers/ports';
import { sendMany, type MailSpec } from '../helpers/client';
import { parseExposition, total } from '../helpers/prom';

const TOKEN = 'scrape-token-for-the-e2e-test';

function scrape(port: number, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    http
      .get({ host: '127.0.0.1', port, path: '/metrics', headers, timeout: 15_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

t.test('one Haraka process serves its own metrics, behind a token', async (t) => {
  const receiver = await startReceiver({
    reply: (ctx) =>
      ctx.stage === 'rcpt' && ctx.rcptTo.at(-1)?.startsWith('nobody')
        ? { code: 550, message: '5.1.1 User unknown' }
        : null,
  });
  t.teardown(() => receiver.close());
  const port = await freePort();
  const haraka = await startHaraka({
    name: 'metrics-one',
    plugins: ['test_relay', 'paceline'],
    files: {
      'config/paceline.yaml': `
sources:
  s2: { address: 127.0.0.2, helo: s2.paceline.test }
providers:
  microsoft365: { limits: { rate: "40/s,burst=10", concurrency: 10 } }
static_mx:
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${receiver.port} }
`,
      'config/paceline.ini': `[main]\nstore=memory\n[adapt]\nstart=1\n[metrics]\nlisten=127.0.0.1:${port}\ntoken=${TOKEN}\n`,
      'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*60\nenable_tls=false\nlocal_mx_ok=true\n',
    },
  });
  t.teardown(() => haraka.stop());
  await haraka.waitForLog(/paceline: metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/, 20_000);
  t.notMatch(haraka.log(), new RegExp(TOKEN), 'the token is not in the log');
  t.equal((await scrape(port)).status, 401, 'no token: 401');

  const msgs: MailSpec[] = Array.from({ length: 12 }, (_, i) => ({
    from: 's@paceline.test',
    to: [`${i === 0 ? 'nobody' : 'u'}${i}@contoso.test`],
    messageId: `<one${i}@paceline.test>`,
  }));
  await sendMany(haraka.port, msgs, 4);
  await receiver.waitFor(11, 60_000);
  const end = Date.now() + 30_000;
  let f = parseExposition((await scrape(port, TOKEN)).body);
  while (Date.now() < end && (total(f, 'paceline_deliveries_total') < 11 || total(f, 'paceline_replies_total') < 1)) {
    await new Promise((r) => setTimeout(r, 250));
    f = parseExposition((await scrape(port, TOKEN)).body);
  }
  t.equal(
    total(f, 'paceline_deliveries_total', { source: 's2', provider: 'microsoft365' }),
    receiver.deliveries.length,
    "deliveries = the receiver's",
  );
  t.equal(
    total(f, 'paceline_replies_total', { category: 'recipient' }),
    receiver.rejections.length,
    'the refusal, as recipient',
  );
  t.equal(receiver.rejections.length, 1);
  t.equal(total(f, 'paceline_decisions_total', { action: 'send' }), 12, 'one send per message');
  t.equal(
    total(f, 'paceline_lane_pace_factor', { source: 's2', provider: 'microsoft365' }),
    1,
    'the lane at full pace',
  );
  t.equal(total(f, 'paceline_store_errors_total'), 0, 'the memory store has no store errors');
});

t.test('a throttle reply: counted by category, the slowed lane shown in the pace gauge and lane states', async (t) => {
  const refused = new Set<string>();
  const receiver = await startReceiver({
    reply: (ctx) => {
      const rcpt = ctx.rcptTo.at(-1) ?? '';
      if (ctx.stage !== 'rcpt' || !rcpt.startsWith('busy') || refused.has(rcpt)) return null;
      refused.add(rcpt);
      return { code: 451, message: '4.7.500 Server busy. Please try again later from [127.0.0.2]' };
    },
  });
  t.teardown(() => receiver.close());
  const port = await freePort();
  const haraka = await startHaraka({
    name: 'metrics-throttle',
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
      'config/paceline.ini': `[main]\nstore=memory\n[adapt]\nstart=1\nthrottle_pause=2s\n[metrics]\nlisten=127.0.0.1:${port}\n`,
      'config/outbound.ini': '[main]\ntemp_fail_intervals=2s*60\nenable_tls=false\nlocal_mx_ok=true\n',
    },
  });
  t.teardown(() => haraka.stop());
  await haraka.waitForLog(/paceline: metrics on http/, 20_000);
  const msgs: MailSpec[] = Array.from({ length: 6 }, (_, i) => ({
    from: 's@paceline.test',
    to: [`${i === 0 ? 'busy' : 'u'}${i}@contoso.test`],
    messageId: `<thr${i}@paceline.test>`,
  }));
  // the busy one alone first: refused with no other session open, the lane is slowed (not capped)
  await sendMany(haraka.port, msgs.slice(0, 1), 1);
  const deadline = Date.now() + 30_000;
  while (receiver.rejections.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await sendMany(haraka.port, msgs.slice(1), 2);
  await receiver.waitFor(msgs.length, 60_000);
  const end = Date.now() + 30_000;
  let f = parseExposition((await scrape(port)).body);
  while (Date.now() < end && total(f, 'paceline_deliveries_total') < msgs.length) {
    await new Promise((r) => setTimeout(r, 250));
    f = parseExposition((await scrape(port)).body);
  }
  t.equal(receiver.rejections.length, 1, 'the receiver refused the busy recipient once');
  t.equal(
    total(f, 'paceline_replies_total', { source: 's2', provider: 'microsoft365', category: 'throttle' }),
    1,
    'the throttle reply counted',
  );
  t.equal(total(f, 'paceline_deliveries_total'), msgs.length, 'every message delivered in the end, and counted');
  const effects = [...haraka.log().matchAll(/paceline reply on s2\/microsoft365: throttle \([^)]*\) → (\w+)/g)].map(
    (m) => m[1],
  );
  t.same(effects, ['slowed'], 'the lane reacted: slowed');
  const factor = total(f, 'paceline_lane_pace_factor', { source: 's2', provider: 'microsoft365' });
  t.ok(factor > 0 && factor < 1, `the pace gauge shows it (${factor}); recovery starts after recover_interval (2 min)`);
  const state = (name: string) => total(f, 'paceline_lanes', { state: name });
  t.equal(state('ok'), 0, 'the lane is not ok');
  t.equal(state('slowed') + state('paused'), 1, 'it is slowed (or still in its 2 s pause)');
});
