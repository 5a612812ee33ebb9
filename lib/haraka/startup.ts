/**
 * The plugin's start, reload and stop: a cluster master serves the cluster's
 * metrics; a process that paces opens the store, builds the engine and starts
 * the leases, the metrics endpoint, the status publishers and the operator
 * controls. Called from plugins/paceline.ts register() and shutdown().
 */

import cluster from 'node:cluster';
import { loadConfig } from '../config/load';
import type { Config } from '../config/types';
import { Engine } from '../engine/engine';
import { MxResolver } from '../engine/mx';
import { newBootId, startLeases, type LeaseIdentity } from '../engine/lease-keeper';
import { openStore, persistMemory, startSnapshots, startSourceSnapshots } from '../store/open';
import { startReports } from '../store/reports';
import { MemoryStore } from '../store/memory';
import { FallbackStore } from '../store/fallback';
import { WaitingMessages } from '../core/waiting';
import { startPluginControls } from '../operator/plugin-controls';
import { PacelineMetrics } from '../metrics/metrics';
import type { MetricsListener } from '../metrics/http';
import { startClusterMetrics, startProcessMetrics } from '../metrics/plugin-metrics';
import { pluginClock } from './clock';
import { HeldTurns } from './held-turns';
import { levelLog, type Plugin, type PluginState, type Publisher } from './state';
import {
  BOOT_ENV,
  describeConfig,
  leaseIdentity,
  memoryInClusterMode,
  oneLine,
  storeChanged,
  workerCount,
} from './glue';

/** Haraka's register(): reads the config (with its reload callback) and starts this process's part. */
export function startPlugin(plugin: Plugin): void {
  const config = loadConfig(plugin.config, () => reload(plugin));
  const workers = workerCount(plugin.config);
  // the master (or the one process) says it once, not every worker
  if (cluster.isPrimary) for (const line of config.warnings) plugin.logwarn(`paceline: ${line}`);
  if (config.settings.store === 'memory' && workers > 1) throw new Error(memoryInClusterMode(workers));
  if (cluster.isPrimary && workers >= 1) {
    process.env[BOOT_ENV] = newBootId(); // before Haraka forks: this boot's workers share it
    plugin.loginfo('paceline: master process, the workers pace outbound mail');
    serveMetrics(plugin, startClusterMetrics(config.settings.metrics));
    return;
  }
  startPacing(plugin, config, workers);
}

/** A process that paces: the store, the engine, and everything that publishes or serves its state. */
function startPacing(plugin: Plugin, config: Config, workers: number): void {
  const clock = pluginClock();
  const log = levelLog(plugin);
  const dir = process.env.HARAKA;
  const { store, describe: where } = openStore(config, clock, log);
  const me = String(plugin.config.get('me') ?? '').trim();
  const identity = leaseIdentity(config.settings.node, me, dir ?? process.cwd(), process.env, cluster.isWorker);
  const state = newState(config, store, clock, identity);
  state.engine.controlLog = (text) => plugin.lognotice(text);
  const persisted = store instanceof MemoryStore && dir ? persistMemory(store, dir, log) : undefined;
  if (persisted) state.persisted = persisted;
  plugin.paceline = state;
  serveMetrics(plugin, startProcessMetrics(config.settings.metrics, state.metrics));
  startLeases(state.engine, log);
  const snapshots = store instanceof MemoryStore && dir ? startSnapshots(store, dir) : undefined;
  // several workers would share one socket: in cluster mode (Redis) the CLI acts through the store
  const files = dir ? startSourceSnapshots(state.engine.health, dir, clock, undefined, state.waiting) : undefined;
  // with Redis every host's status reads every process's report from the store
  const reports =
    store instanceof MemoryStore
      ? undefined
      : startReports(store, { node: identity.node, health: state.engine.health, waiting: state.waiting, clock });
  state.sources = both(files, reports);
  if (dir && workers <= 1) startControls(plugin, state, dir, snapshots?.write);
  plugin.loginfo(`paceline ready: ${describeConfig(config)} (${where})`);
}

/** The engine on its store and MX resolver, with its metrics, and empty tickets, waiting list and held turns. */
function newState(
  config: Config,
  store: PluginState['store'],
  clock: () => number,
  identity: LeaseIdentity,
): PluginState {
  const mx = new MxResolver(
    { cacheMaxMs: config.settings.dnsCacheMaxMs, negativeMs: config.settings.dnsNegativeMs, staticMx: config.staticMx },
    undefined,
    clock,
  );
  const engine = new Engine(config, store, mx, clock, undefined, identity);
  const storeHealth =
    store instanceof FallbackStore ? () => ({ errors: store.errors, degraded: store.degraded }) : undefined;
  const metrics = new PacelineMetrics({ config: () => engine.current, store, ...(storeHealth ? { storeHealth } : {}) });
  return {
    engine,
    clock,
    store,
    tickets: new WeakMap(),
    metrics,
    waiting: new WaitingMessages(),
    held: new HeldTurns(),
  };
}

/** The sources file and the store report, written and stopped together. */
function both(a: Publisher | undefined, b: Publisher | undefined): Publisher | undefined {
  if (!a || !b) return a ?? b;
  return { write: () => (a.write(), b.write()), stop: () => (a.stop(), b.stop()) };
}

function startControls(plugin: Plugin, state: PluginState, dir: string, snapshot?: () => Promise<void>): void {
  const log = levelLog(plugin);
  startPluginControls(state.engine.current, {
    engine: state.engine,
    store: state.store,
    dir,
    log,
    ...(snapshot ? { snapshot } : {}),
  }).then(
    (listener) => {
      if (!listener) return;
      state.control = listener;
      plugin.loginfo(`paceline: operator controls listening on ${listener.where}`);
    },
    (err: Error) => plugin.logerror(`paceline: operator control listener not started: ${err.message}`),
  );
}

/** Logs where the Prometheus endpoint listens (nothing when [metrics] listen=off). */
function serveMetrics(plugin: Plugin, started: Promise<MetricsListener | undefined>): void {
  started.then(
    (listener) => {
      if (!listener) return;
      plugin.metricsListener = listener;
      plugin.loginfo(`paceline: metrics on http://${listener.where}/metrics`);
    },
    (err: Error) => plugin.logerror(`paceline: metrics endpoint not started: ${err.message}`),
  );
}

/**
 * Haraka's reload callback: swap the whole config, or keep the running one and
 * say why. It re-registers itself: haraka-config keeps only the last reader's callback.
 */
function reload(plugin: Plugin): void {
  const state = plugin.paceline;
  if (!state) return;
  try {
    const config = loadConfig(plugin.config, () => reload(plugin));
    for (const line of config.warnings) plugin.logwarn(`paceline: ${line}`);
    if (storeChanged(config, state.engine.current))
      plugin.logwarn('paceline: store settings changed; they take effect when Haraka restarts');
    const metricsChanged =
      JSON.stringify(config.settings.metrics) !== JSON.stringify(state.engine.current.settings.metrics);
    if (metricsChanged) plugin.logwarn('paceline: [metrics] settings changed; they take effect when Haraka restarts');
    state.engine.reconfigure(config);
    plugin.lognotice(`paceline config reloaded: ${describeConfig(config)}`);
  } catch (err) {
    plugin.logerror(`paceline config NOT reloaded, keeping the running one: ${oneLine(err)}`);
  }
}

/** Haraka's shutdown(): stops the publishers and listeners, writes the memory state once more, closes the store. */
export function stopPlugin(plugin: Plugin): void {
  plugin.paceline?.sources?.stop();
  plugin.metricsListener?.close().catch(() => undefined);
  plugin.paceline?.control?.close().catch(() => undefined);
  plugin.paceline?.persisted?.();
  plugin.paceline?.store.close().catch(() => undefined);
}
