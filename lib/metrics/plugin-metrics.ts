/**
 * Where the metrics are served from in Haraka. One process (smtp.ini nodes=0):
 * it serves its own. Cluster mode: every worker keeps its metrics and answers
 * the master over IPC (prom-client's AggregatorRegistry), and the master
 * serves the sum, so a scrape sees the whole Haraka, not one worker.
 */

import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { MetricsSettings } from '../config/metrics-settings';
import { startMetricsListener, type MetricsListener } from './http';
import type { PacelineMetrics } from './metrics';

/** A cluster worker: answers the master's requests with these metrics; one process: serves them itself. */
export async function startProcessMetrics(
  settings: MetricsSettings,
  metrics: PacelineMetrics,
): Promise<MetricsListener | undefined> {
  if (cluster.isWorker) {
    if (settings.listen.kind === 'off') return undefined;
    AggregatorRegistry.setRegistries([metrics.registry]);
    // constructing one is what makes a worker answer the master's requests (prom-client adds its listener then)
    new AggregatorRegistry();
    return undefined;
  }
  return startMetricsListener(settings, {
    contentType: metrics.registry.contentType,
    text: () => metrics.registry.metrics(),
  });
}

/** The cluster master: serves the workers' metrics, summed (gauges read from the shared store: the first worker's). */
export async function startClusterMetrics(settings: MetricsSettings): Promise<MetricsListener | undefined> {
  if (settings.listen.kind === 'off') return undefined;
  const registry = new AggregatorRegistry();
  return startMetricsListener(settings, { contentType: registry.contentType, text: () => registry.clusterMetrics() });
}
