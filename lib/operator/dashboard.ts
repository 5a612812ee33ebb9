/**
 * The dashboard served by the control listener: the page and its script and
 * styles (lib/operator/dashboard/), uPlot from the installed `uplot` package
 * (never a CDN), and `GET /history.json` with the data the page draws, read
 * from the store the way `paceline status` reads it (lib/engine/dashboard-data.ts).
 *
 *   GET /                      → the page (HTML)
 *   GET /dashboard/<asset>     → dashboard.js, dashboard.css, uplot.js, uplot.css
 *   GET /history.json          → DashboardData
 */

import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import type { Config } from '../config/types';
import { sumWaiting } from '../core/waiting';
import { dashboardData, type DashboardData } from '../engine/dashboard-data';
import { laneOutcomes, readSourceSnapshots, warmRecords } from '../store/open';
import { laneKey, type PacingStore } from '../store/types';

/** The cookie a browser keeps the control token in (see lib/operator/http.ts). */
export const TOKEN_COOKIE = 'paceline_token';

/** Only the listener's own files; uPlot sets element styles. */
const CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:";

/** A file the listener serves: its content type and where it is. */
interface Asset {
  readonly type: string;
  readonly file: string;
}

/** Where the page's own files are: next to this file in lib/, or in lib/ seen from dist/. */
function pageDir(): string {
  const candidates = [
    path.join(__dirname, 'dashboard'),
    path.resolve(__dirname, '..', '..', '..', 'lib', 'operator', 'dashboard'),
  ];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'dashboard.html')));
  if (!found) throw new Error(`paceline: dashboard files not found in ${candidates.join(' or ')}`);
  return found;
}

/** The files of the page by URL path; uPlot resolved from node_modules. */
export function dashboardAssets(): ReadonlyMap<string, Asset> {
  const dir = pageDir();
  const uplot = (file: string) => require.resolve(`uplot/dist/${file}`);
  return new Map<string, Asset>([
    ['/', { type: 'text/html; charset=utf-8', file: path.join(dir, 'dashboard.html') }],
    ['/dashboard', { type: 'text/html; charset=utf-8', file: path.join(dir, 'dashboard.html') }],
    ['/dashboard/dashboard.js', { type: 'text/javascript; charset=utf-8', file: path.join(dir, 'dashboard.js') }],
    ['/dashboard/dashboard.css', { type: 'text/css; charset=utf-8', file: path.join(dir, 'dashboard.css') }],
    ['/dashboard/uplot.js', { type: 'text/javascript; charset=utf-8', file: uplot('uPlot.iife.min.js') }],
    ['/dashboard/uplot.css', { type: 'text/css; charset=utf-8', file: uplot('uPlot.min.css') }],
  ]);
}

let assets: ReadonlyMap<string, Asset> | undefined;

/**
 * Answers the dashboard's routes; false when `url` is none of them. A page
 * asked with ?token= keeps the token as an HttpOnly cookie and redirects to
 * the address without it. Missing page files are an error answer (503), never
 * a failure of the listener.
 */
export async function serveDashboard(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: string,
  data: () => Promise<unknown>,
): Promise<boolean> {
  if (url === '/history.json') {
    const text = JSON.stringify(await data());
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return true;
  }
  assets ??= dashboardAssets();
  const asset = assets.get(url);
  if (!asset) return false;
  const token = new URL(req.url ?? '/', 'http://paceline').searchParams.get('token');
  if (token && asset.type.startsWith('text/html')) {
    const cookie = `${TOKEN_COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`;
    res.writeHead(303, { location: url, 'set-cookie': cookie, 'content-length': 0 });
    res.end();
    return true;
  }
  const body = await fs.promises.readFile(asset.file);
  res.writeHead(200, {
    'content-type': asset.type,
    'content-length': body.length,
    'cache-control': 'no-store',
    'content-security-policy': CSP,
  });
  res.end(body);
  return true;
}

/**
 * The dashboard's data from the store: the lanes, their warm-up records,
 * counters, reasons and histories, and the messages waiting as the
 * processes' files in `dir` list them (as `paceline status` reads them).
 */
export async function loadDashboard(config: Config, store: PacingStore, dir: string): Promise<DashboardData> {
  const { now, value: lanes } = await store.lanes();
  const refs = lanes.map((l) => l.lane);
  const [warm, { tallies, reasons }, history] = await Promise.all([
    warmRecords(store, refs),
    laneOutcomes(store, refs),
    store.histories(refs),
  ]);
  const histories = new Map(refs.map((l, i) => [laneKey(l), history.value[i] ?? { minutes: [], days: [] }]));
  const waiting = sumWaiting(readSourceSnapshots(dir, Date.now()).map((s) => s.waiting ?? []));
  return dashboardData(config, { lanes, warm, tallies, reasons, waiting, histories }, now);
}
