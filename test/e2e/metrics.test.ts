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
    reply: (ctx) => (ctx.stage === 'rcpt' && ctx.rcptTo.at(-1)?.startsWith('nobody') ? { code: 550, message: '5.1.1 User unknown' } : null),
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
  t.equal(total(f, 'paceline_deliveries_total', { source: 's2', provider: 'microsoft365' }), receiver.deliveries.length, 'deliveries = the receiver\'s');
  t.equal(total(f, 'paceline_replies_total', { category: 'recipient' }), receiver.rejections.length, 'the refusal, as recipient');
  t.equal(receiver.rejections.length, 1);
  t.equal(total(f, 'paceline_decisions_total', { action: 'send' }), 12, 'one send per message');
  t.equal(total(f, 'paceline_lane_pace_factor', { source: 's2', provider: 'microsoft365' }), 1, 'the lane at full pace');
  t.equal(total(f, 'paceline_store_errors_total'), 0, 'the memory store has no store errors');
});
