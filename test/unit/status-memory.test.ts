/**
 * `paceline status` on the memory store reads the provider and source
 * sections from what Haraka writes: the snapshot (lanes, provider incident
 * states, controls) and the per-process sources file. Driven through the
 * real writers (startSnapshots, startSourceSnapshots) and the real command.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { MemoryStore } from '../../lib/store/memory';
import { startSnapshots, startSourceSnapshots } from '../../lib/store/open';
import { DEFAULT_INCIDENT } from '../../lib/core/provider-state';
import { SourceHealth } from '../../lib/core/source-health';
import { WaitingMessages } from '../../lib/core/waiting';
import { statusJson } from '../helpers/cli';

interface Status {
  providers: Array<{
    provider: string;
    state: string;
    incident: { sources: string[] } | null;
    pause: { who: string } | null;
    waiting: number;
  }>;
  sources: Array<{ source: string; state: string; pools: string[]; reason: string | null; processes: unknown[] }>;
  processes: Array<{ node: string | null; pid: number; waiting: number }>;
}

t.test('memory store: providers and sources from the snapshot and the sources file', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-status-memory-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.mkdirSync(path.join(dir, 'config'));
  fs.writeFileSync(
    path.join(dir, 'config', 'paceline.yaml'),
    'sources:\n  a: { address: 127.0.0.2 }\n  b: { address: 127.0.0.3 }\npools:\n  default: { sources: [a, b] }\nproviders:\n  partner: { mx: [mx.partner.test] }\n',
  );
  const store = new MemoryStore(() => Date.now());
  const limits = { rate: undefined };
  for (const source of ['a', 'b'])
    await store.acquire({ source, provider: 'partner' }, limits, {
      mode: 'now',
      leaseId: `l-${source}`,
      leaseMs: 60_000,
    });
  await store.providerThrottle('partner', 'a', 2, DEFAULT_INCIDENT);
  const incident = await store.providerThrottle('partner', 'b', 2, DEFAULT_INCIDENT);
  t.equal(incident.incident, true, 'throttles on both sources: an incident');
  await store.setControl({ target: { kind: 'provider', provider: 'google' }, forMs: 0, reason: 'x', who: 'ann' });
  const health = new SourceHealth({ downAfter: 1, downMs: 60_000 });
  health.failed('b', Date.now(), 'cannot bind 127.0.0.3 (EADDRNOTAVAIL)');
  const waiting = new WaitingMessages();
  waiting.delayed('m1', 'partner', 'a', Date.now() - 1000);
  const snaps = startSnapshots(store, dir, 60_000);
  const files = startSourceSnapshots(health, dir, () => Date.now(), 60_000, waiting);
  t.teardown(() => (snaps.stop(), files.stop()));
  await snaps.write();

  const s = await statusJson<Status>(dir);
  t.match(s.providers, [
    { provider: 'google', state: 'paused', incident: null, pause: { who: 'ann' }, waiting: 0 },
    { provider: 'partner', state: 'incident', incident: { sources: ['a', 'b'] }, pause: null, waiting: 1 },
  ]);
  t.equal(s.providers.length, 2);
  t.match(s.sources, [
    { source: 'a', state: 'up', pools: ['default'], reason: null, processes: [] },
    { source: 'b', state: 'down', reason: 'cannot bind 127.0.0.3 (EADDRNOTAVAIL)', processes: [{ pid: process.pid }] },
  ]);
  t.match(s.processes, [{ node: null, pid: process.pid, waiting: 1 }], 'this process, one message waiting');
  t.equal(s.processes.length, 1);
  const incidentOnly = await statusJson<Status>(dir, '--state', 'paused', '--provider', 'partner');
  t.same(
    incidentOnly.providers.map((p) => p.provider),
    ['partner'],
  );
});
