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
import path from 'node:path';
import type { Config } from '../config/types';
import { sumWaiting } from '../core/waiting';
import { dashboardData, type DashboardData } from '../engine/dashboard-data';
import { laneOutcomes, readSourceSnapshots, warmRecords } from '../store/open';
import { laneKey, type PacingStore } from '../store/types';

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
