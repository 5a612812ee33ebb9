/**
 * How the family's simulator queues a scenario's messages (sim/family-run.ts)
 * as the end-to-end benchmark's Haraka receives them: at the submission rate,
 * in scenario order, with Haraka's concurrency_max as the benchmark leaves it.
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { drawScenario } from '../../sim/family';
import { CONCURRENCY_MAX, FAMILY_T0, queue, SUBMIT_PER_S } from '../../sim/family-run';

const ROOT = path.resolve(__dirname, '..', '..');

t.test('messages are queued in scenario order at SUBMIT_PER_S from t0, not all at once', async (t) => {
  const s = drawScenario(47);
  const q = queue(s, FAMILY_T0);
  t.same(
    q.map((m) => m.domain),
    s.messages.map((m) => m.domain),
    'in scenario order (Microsoft, then Google, then plain), as the benchmark submits them',
  );
  t.equal(q[0]?.queueTime, FAMILY_T0, 'the first at t0');
  const spanS = ((q[q.length - 1]?.queueTime ?? 0) - FAMILY_T0) / 1000;
  t.ok(Math.abs(spanS - (q.length - 1) / SUBMIT_PER_S) < 0.01, `the last ${spanS} s later`);
  t.ok(
    q.every((m, i) => i === 0 || m.queueTime >= (q[i - 1]?.queueTime ?? 0)),
    'queue times never go back',
  );
});

t.test("concurrency_max is Haraka's own fallback, which the benchmark's outbound.ini leaves in force", async (t) => {
  const haraka = fs.readFileSync(path.join(ROOT, 'node_modules', 'Haraka', 'outbound', 'config.js'), 'utf8');
  const fallback = /cfg\.concurrency_max = config\.get\('outbound\.concurrency_max'\) \|\| (\d+)/.exec(haraka);
  t.ok(fallback, "Haraka's outbound/config.js still has its concurrency_max fallback");
  t.equal(CONCURRENCY_MAX, Number(fallback?.[1]), `the simulator uses it: ${CONCURRENCY_MAX}`);
  const bench = fs.readFileSync(path.join(ROOT, 'bench', 'e2e-strategy.ts'), 'utf8');
  const outbound = /const OUTBOUND = '([^']*)'/.exec(bench)?.[1];
  t.ok(outbound !== undefined && !outbound.includes('concurrency_max'), 'the benchmark sets none');
});
