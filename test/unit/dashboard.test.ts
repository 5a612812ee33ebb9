/**
 * The dashboard without a browser: what /history.json holds (the status rows
 * as `status --json` prints them, a warming source's ramp planned vs sent,
 * a lane's pace and marks, a provider's replies by category), and the
 * listener's token rule for a browser (?token= once, then the HttpOnly
 * cookie; POST needs the header), the assets served locally with no
 * external URL. The browser test is test/e2e/dashboard.test.ts.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { DEFAULT_REACT } from '../../lib/core/adapt';
import { DAY_MS, dayNumber } from '../../lib/core/day';
import { MINUTE_MS } from '../../lib/core/history';
import { buildConfig } from '../../lib/config/load';
import { dashboardData } from '../../lib/engine/dashboard-data';
import { jsonRow, statusRows } from '../../lib/engine/status-rows';
import { runAction } from '../../lib/operator/actions';
import { loadDashboard } from '../../lib/operator/dashboard';
import { startControlListener } from '../../lib/operator/http';
import { laneOutcomes, warmRecords } from '../../lib/store/open';
import { MemoryStore } from '../../lib/store/memory';
import { freePort } from '../helpers/ports';

const T0 = Date.UTC(2026, 2, 10, 12, 0, 0);
const TODAY = dayNumber(T0, 0);
const iso = (day: number) => new Date(day * DAY_MS).toISOString().slice(0, 10);
const YAML = {
  sources: { warm: { address: '127.0.0.2' }, lone: { address: '127.0.0.4', warmup: { schedule: 'tiny' } } },
  pools: { default: { sources: ['lone'] }, other: { sources: ['warm'] } },
};
const WARMUP = { schedules: { tiny: { progression: 'calendar', days: [2, 4, 8], providers: { google: [1, 3, 5] } } } };
const TOKEN = 'a-long-enough-secret-token';
const google = { source: 'lone', provider: 'google' };
const ms365 = { source: 'lone', provider: 'microsoft365' };

/** A memory store with two warming lanes: yesterday and today on google, a throttle and a slow-down today. */
async function scene(clock: { now: number }) {
  const config = buildConfig({}, YAML, WARMUP);
  const store = new MemoryStore(() => clock.now);
  const limits = { rate: { count: 60, periodMs: 60_000, burst: 1 } };
  const record = { start: TODAY - 1, step: 2, evaluated: TODAY, badDays: 0 };
  await store.putWarmRecord(google, record);
  await store.putWarmRecord(ms365, record);
  clock.now = T0 - DAY_MS;
  await store.acquire(google, limits, { mode: 'now', leaseId: 'y', leaseMs: 1000 });
  await store.tally(google, ['attempts', 'delivered'], 0, 4);
  clock.now = T0;
  await store.acquire(ms365, limits, { mode: 'now', leaseId: 'z', leaseMs: 1000 });
  await store.tally(google, ['attempts', 'delivered'], 0, 4);
  await store.tally(google, ['attempts', 'delivered'], 0, 4);
  await store.react(google, limits, { category: 'throttle' }, DEFAULT_REACT);
  await store.tally(google, ['attempts', 'deferred:throttle', 'throttles', 'mark:slowed'], 0, 4);
  clock.now = T0 + MINUTE_MS;
  await store.tally(ms365, ['attempts', 'bounced'], 0, 4);
  return { config, store };
}

t.test('the data: status rows, ramps, paces and replies', async (t) => {
  const clock = { now: T0 };
  const { config, store } = await scene(clock);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-dash-'));
  const data = await loadDashboard(config, store, dir);
  const { value: lanes } = await store.lanes();
  const refs = lanes.map((l) => l.lane);
  const { tallies, reasons } = await laneOutcomes(store, refs);
  const warm = await warmRecords(store, refs);
  t.same(
    data.lanes,
    statusRows(config, lanes, clock.now, warm, tallies, reasons).map(jsonRow),
    'the lanes table holds the rows of status --json',
  );
  t.equal(data.ramps.length, 1, 'one warming source');
  const ramp = data.ramps[0];
  t.same(ramp?.dates, [iso(TODAY - 1), iso(TODAY), iso(TODAY + 1)], 'the ramp runs from the start to its last day');
  t.same(
    ramp?.providers,
    [
      { provider: 'google', planned: [1, 3, 5], sent: [1, 3, 0] },
      { provider: 'microsoft365', planned: [2, 4, 8], sent: [0, 1, 0] },
    ],
    'planned from the schedule (a provider ramp of its own), sent from the day buckets',
  );
  const pace = data.paces.find((p) => p.provider === 'google');
  t.same(pace?.t, [(T0 - DAY_MS) / 1000, T0 / 1000], 'a point per minute with outcomes');
  t.same(pace?.sent, [1, 3]);
  t.same(pace?.throttles, [0, 1]);
  t.same(pace?.pace, [1, 0.5], 'the pace after the minute: halved by the throttle');
  t.same(pace?.marks, [{ t: T0 / 1000, effects: ['slowed'] }], 'the reaction is marked');
  const replies = data.replies.find((r) => r.provider === 'google');
  t.same(replies?.categories, ['accepted', 'throttle']);
  t.same(replies?.counts, [
    [1, 2],
    [0, 1],
  ]);
  t.same(data.replies.find((r) => r.provider === 'microsoft365')?.counts, [[1]], 'a bounce is a reply category too');
  t.equal(dashboardData(config, { ...emptyInput() }, T0).lanes.length, 0, 'no lanes: empty tables, no error');
});

function emptyInput() {
  return { lanes: [], warm: new Map(), tallies: new Map(), reasons: new Map(), waiting: [], histories: new Map() };
}

t.test('the listener: token rule for a browser, assets served locally', async (t) => {
  const clock = { now: Date.now() };
  const { config, store } = await scene(clock);
  clock.now = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-dash-'));
  const port = await freePort();
  const listener = await startControlListener({ listen: { kind: 'tcp', host: '127.0.0.1', port }, token: TOKEN }, dir, {
    controls: () => store.controls(),
    act: (req) => runAction(config, store, req),
    dashboard: () => loadDashboard(config, store, dir),
  });
  t.teardown(() => listener?.close());
  const base = `http://127.0.0.1:${port}`;
  const get = (p: string, headers: Record<string, string> = {}) => fetch(base + p, { headers, redirect: 'manual' });

  t.equal((await get('/')).status, 401, 'the page needs the token');
  t.equal((await get('/history.json?token=wrong-token-of-some-length')).status, 401, 'a wrong token: 401');
  const first = await get(`/?token=${TOKEN}`);
  t.equal(first.status, 303, '?token= on the page: a redirect');
  t.equal(first.headers.get('location'), '/', 'to the page without the token in the address');
  const cookie = first.headers.get('set-cookie') ?? '';
  t.match(cookie, /^paceline_token=.+; HttpOnly; SameSite=Strict; Path=\//, 'the token kept as an HttpOnly cookie');
  const jar = { cookie: cookie.split(';')[0] as string };

  const page = await get('/', jar);
  t.equal(page.status, 200);
  t.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/, 'only local resources');
  const html = await page.text();
  for (const p of [
    '/dashboard/uplot.js',
    '/dashboard/uplot.css',
    '/dashboard/dashboard.js',
    '/dashboard/dashboard.css',
  ]) {
    const r = await get(p, jar);
    t.equal(r.status, 200, `${p} served`);
    const text = await r.text();
    if (p.includes('dashboard.')) t.notMatch(text, /https?:\/\//, `${p}: no external URL`);
    if (p === '/dashboard/uplot.js') t.match(text, /uPlot/, 'uPlot from node_modules/uplot');
  }
  t.notMatch(html, /https?:\/\//, 'the page names no external URL');
  const data = (await (await get('/history.json', jar)).json()) as { lanes: unknown[] };
  t.equal(data.lanes.length, 2, '/history.json with the cookie');
  t.equal((await get('/history.json', { authorization: `Bearer ${TOKEN}` })).status, 200, 'or with the header');

  const post = (headers: Record<string, string>) =>
    fetch(`${base}/actions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ action: 'pause', provider: 'google', who: 'x' }),
    });
  t.equal((await post(jar)).status, 401, 'POST with the cookie alone is refused (no cross-site action)');
  t.equal((await fetch(`${base}/actions?token=${TOKEN}`, { method: 'POST', body: '{}' })).status, 401, 'nor ?token=');
  t.same((await store.controls()).value, [], 'nothing was paused');
});
