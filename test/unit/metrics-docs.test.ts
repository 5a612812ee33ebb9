/**
 * docs/operations.md lists the metrics exactly as exposed: every family with
 * its type and labels, no more and no fewer, and every decision reason the
 * engine can give.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { buildConfig } from '../../lib/config/load';
import { DECISION_REASONS } from '../../lib/engine/engine';
import { PacelineMetrics } from '../../lib/metrics/metrics';
import { MemoryStore } from '../../lib/store/memory';

const DOC = fs.readFileSync(path.join(__dirname, '../../docs/operations.md'), 'utf8');

/** Rows of the metrics table: | `name` | type | `label`, `label` | meaning | */
function documented(): Map<string, { type: string; labels: string[]; meaning: string }> {
  const rows = new Map<string, { type: string; labels: string[]; meaning: string }>();
  for (const line of DOC.split('\n')) {
    const m = /^\| `(paceline_[a-z_]+)` \| (\w+) \|([^|]*)\| (.*) \|$/.exec(line);
    if (!m) continue;
    const labels = [...(m[3] as string).matchAll(/`([a-z_]+)`/g)].map((x) => x[1] as string);
    rows.set(m[1] as string, { type: m[2] as string, labels: labels.sort(), meaning: m[4] as string });
  }
  return rows;
}

t.test('the metrics table matches the registry', async (t) => {
  const config = buildConfig({}, { sources: { a: { address: '127.0.0.2' } } });
  const metrics = new PacelineMetrics({ config: () => config, store: new MemoryStore() });
  const exposed = await metrics.registry.getMetricsAsJSON();
  const docs = documented();
  t.ok(docs.size >= 10, `the table has rows (${docs.size})`);
  t.same([...docs.keys()].sort(), exposed.map((m) => m.name).sort(), 'the same metric names');
  const labelNames = new Map(
    metrics.registry
      .getMetricsAsArray()
      .map((m) => [m.name, [...((m as unknown as { labelNames: string[] }).labelNames ?? [])]]),
  );
  for (const m of exposed) {
    const row = docs.get(m.name);
    const labels = labelNames.get(m.name) ?? [];
    t.equal(row?.type, m.type, `${m.name}: type ${m.type}`);
    t.same(row?.labels, labels.sort(), `${m.name}: labels ${labels.join(', ') || '(none)'}`);
  }
});

t.test('every decision reason is documented', async (t) => {
  const row = documented().get('paceline_decisions_total');
  for (const reason of DECISION_REASONS) t.match(row?.meaning ?? '', new RegExp(`\`${reason}\``), `reason ${reason}`);
});
