/**
 * The dashboard in a real browser: a real Haraka with paceline (memory
 * store, the control listener on a loopback port with a token), receivers
 * imitating Microsoft 365 (answering `451 4.7.500 Server busy` to a few
 * messages after the first ones) and Gmail, one warming source carrying every message. Then
 * headless Chromium (Debian's `chromium`, driven by playwright-core) opens
 * the page with ?token=, and the test checks that the table and each chart
 * carry the run's numbers as the receivers counted them, that the console
 * had no errors, and saves a screenshot (path printed; DASHBOARD_SCREENSHOT
 * names a second copy, e.g. docs/dashboard.png).
 *
 * A missing chromium is a failure (scripts/ensure-deps.js --chromium installs it).
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { chromium, type ConsoleMessage } from 'playwright-core';
import { startHaraka } from '../helpers/haraka';
import { freePort } from '../helpers/ports';
import { startReceiver, type ReplyContext } from '../helpers/receiver';
import { sendMany, type MailSpec } from '../helpers/client';

const CHROMIUM = process.env.PACELINE_CHROMIUM ?? '/usr/bin/chromium';
const TOKEN = 'dashboard-test-token-0123456789';
const THROTTLED = 3;
const TO_MS = 12;
const TO_GMAIL = 4;
const today = new Date().toISOString().slice(0, 10);

/** Accepts `after` MAIL FROMs, answers 451 4.7.500 to the next `n`, then accepts. */
function throttleAfter(after: number, n: number) {
  let seen = 0;
  return (ctx: ReplyContext) =>
    ctx.stage === 'mail' && seen++ >= after && seen <= after + n
      ? { code: 451, message: '4.7.500 Server busy. Please try again later from [127.0.0.4]. (AS843)' }
      : null;
}

const mails = (domain: string, n: number): MailSpec[] =>
  Array.from({ length: n }, (_, i) => ({
    from: 's@paceline.test',
    to: [`u${i}@${domain}`],
    messageId: `<${domain}-${i}@paceline.test>`,
  }));

type Data = { lanes: unknown[]; paces: Array<{ provider: string; sent: number[] }> };

/** Polls /history.json until the Microsoft lane counted every attempt the receiver saw (the tally follows the hook). */
async function settled(base: string, attempts: number): Promise<Data> {
  const until = Date.now() + 30_000;
  for (;;) {
    const data = (await (await fetch(`${base}/history.json?token=${TOKEN}`)).json()) as Data;
    const ms = data.paces.find((p) => p.provider === 'microsoft365');
    const counted = ms ? ms.sent.reduce((a, b) => a + b, 0) : 0;
    if (counted >= attempts || Date.now() > until) return data;
    await new Promise((r) => setTimeout(r, 500));
  }
}

t.test('the dashboard shows the run in headless Chromium', async (t) => {
  if (!fs.existsSync(CHROMIUM)) {
    t.fail(`no Chromium at ${CHROMIUM}: run node scripts/ensure-deps.js --chromium (apt-get install chromium)`);
    return;
  }
  const ms = await startReceiver({ reply: throttleAfter(4, THROTTLED) });
  const gmail = await startReceiver();
  t.teardown(() => ms.close());
  t.teardown(() => gmail.close());
  const port = await freePort();
  const haraka = await startHaraka({
    name: 'dashboard',
    plugins: ['test_relay', 'paceline'],
    files: {
      'config/paceline.yaml': `
sources:
  lone: { address: 127.0.0.4, helo: lone.paceline.test, warmup: { schedule: ramp, start: ${today} } }
pools:
  default: { sources: [lone] }
static_mx:
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${ms.port} }
  gmail.test:
    - { host: gmail-smtp-in.l.google.com, address: 127.0.0.1, port: ${gmail.port} }
`,
      'config/paceline-warmup.yaml': `
schedules:
  ramp:
    progression: calendar
    days: [200000, 400000, 800000]
    providers:
      google: [100000, 300000, 600000, 900000]
`,
      'config/paceline.ini': `[main]\nlog_decisions=false\n[adapt]\nthrottle_pause=2s\nhold=2s\n[control]\nlisten=127.0.0.1:${port}\ntoken=${TOKEN}\n`,
      'config/outbound.ini': '[main]\ntemp_fail_intervals=3s*60\nenable_tls=false\nlocal_mx_ok=true\n',
    },
  });
  t.teardown(() => haraka.stop());
  await haraka.waitForLog(/operator controls listening on 127\.0\.0\.1:/, 20_000);
  t.notMatch(haraka.log(), new RegExp(TOKEN), 'the token is never logged');

  await sendMany(haraka.port, [...mails('contoso.test', TO_MS), ...mails('gmail.test', TO_GMAIL)], 4);
  await ms.waitFor(TO_MS, 120_000);
  await gmail.waitFor(TO_GMAIL, 60_000);
  const throttles = ms.rejections.length;
  t.ok(throttles >= THROTTLED, `the receiver throttled ${throttles} attempts`);
  const base = `http://127.0.0.1:${port}`;
  const data = await settled(base, TO_MS + throttles);

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1300 } });
  const errors: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  const outside: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(base)) outside.push(r.url());
  });
  await page.goto(`${base}/?token=${TOKEN}`);
  await page.waitForSelector('body[data-ready]', { timeout: 20_000 });
  t.equal(new URL(page.url()).search, '', 'the token left the address bar (kept as a cookie)');

  const rows = await page.$$eval('#lanes tbody tr', (trs) => trs.map((tr) => tr.getAttribute('data-provider')));
  t.equal(rows.length, data.lanes.length, `the table has a row per lane (${rows.length})`);
  t.ok(rows.includes('microsoft365') && rows.includes('google'), 'both lanes of the warming source');

  const NAMES = ['sent', 'throttles', 'marks', 'min-pace', 'accepted', 'throttle', 'points'];
  const attrs = async (selector: string): Promise<Record<string, string>> => {
    const values = await page.$eval(selector, (e, names) => names.map((n) => e.getAttribute(`data-${n}`)), NAMES);
    return Object.fromEntries(NAMES.map((n, i) => [n, values[i] ?? '']));
  };
  const pace = await attrs('.chart[data-kind=pace][data-provider=microsoft365]');
  t.equal(Number(pace.sent), TO_MS + throttles, 'pace chart: every attempt the receiver saw, by minute');
  t.equal(Number(pace.throttles), throttles, 'pace chart: the throttle replies the receiver sent');
  t.ok(Number(pace.marks) >= 1, `pace chart: ${pace.marks} reaction mark(s)`);
  t.ok(Number(pace['min-pace']) < 1, `pace chart: the pace fell after the throttle (to ${pace['min-pace']})`);

  const replies = await attrs('.chart[data-kind=replies][data-provider=microsoft365]');
  t.equal(Number(replies.accepted), ms.deliveries.length, 'replies chart: accepted as the receiver counted');
  t.equal(Number(replies.throttle), throttles, 'replies chart: throttle replies as the receiver sent them');
  const google = await attrs('.chart[data-kind=replies][data-provider=google]');
  t.equal(Number(google.accepted), gmail.deliveries.length, 'replies chart: Gmail accepted everything');

  const ramp = await attrs('.chart[data-kind=ramp][data-source=lone]');
  t.equal(Number(ramp.sent), TO_MS + throttles + TO_GMAIL, 'ramp chart: today sent on both providers');
  t.equal(Number(ramp.points), 4, 'ramp chart: the days of the longest provider ramp');
  const canvases = await page.$$eval('.chart canvas', (c) => c.length);
  t.ok(canvases >= 4, `uPlot drew ${canvases} charts`);

  t.same(errors, [], 'no console errors');
  t.same(outside, [], 'nothing loaded from outside the listener');
  const shot = path.resolve('.tap', 'dashboard.png');
  fs.mkdirSync(path.dirname(shot), { recursive: true });
  await page.screenshot({ path: shot, fullPage: true });
  if (process.env.DASHBOARD_SCREENSHOT) fs.copyFileSync(shot, path.resolve(process.env.DASHBOARD_SCREENSHOT));
  t.ok(fs.statSync(shot).size > 10_000, `screenshot saved: ${shot}`);
});
