/**
 * The end-to-end pacing benchmark's machinery on one small scenario: three
 * real Haraka processes (paceline, no pacing, static) in parallel, receivers
 * driving the hidden limiters, one minute. Asserts the accounting, not the
 * pacing: every message is delivered, queued or bounced exactly once, nothing
 * is duplicated, and nothing beats the oracle.
 */
import t from 'tap';
import { runScenario } from '../../bench/e2e';
import { formatReport } from '../../bench/e2e-report';
import { STRATEGIES } from '../../bench/e2e-strategy';

const MESSAGES = 60;

t.test('one small scenario: accounting invariants for every strategy', async (t) => {
  const r = await runScenario(2, { minutes: 1, messages: MESSAGES, only: STRATEGIES, progressMs: 0 });
  t.comment(formatReport(r).join('\n'));
  t.same(
    r.strategies.map((f) => f.name),
    STRATEGIES,
  );
  const oracleEnd = r.oracle[r.oracle.length - 1];
  t.equal(oracleEnd?.minutes, 1);
  for (const f of r.strategies) {
    t.equal(f.submitError, undefined, `${f.name}: every message submitted`);
    t.equal(f.submitted, MESSAGES);
    t.equal(f.delivered + f.queued + f.bounced, f.submitted, `${f.name}: delivered + queued + bounced = submitted`);
    t.equal(f.lost, 0, `${f.name}: nothing lost`);
    t.equal(f.duplicated, 0, `${f.name}: no Message-ID delivered twice`);
    t.equal(
      Object.values(f.perSource).reduce((a, b) => a + b, 0),
      f.delivered,
      `${f.name}: per-source counts add up`,
    );
    f.checkpoints.forEach((c, i) => {
      const o = r.oracle[i];
      t.ok(o && c.delivered <= o.total, `${f.name}: ${c.delivered} ≤ oracle ${o?.total} at ${c.minutes} min`);
      for (const p of ['microsoft', 'google', 'plain'] as const)
        t.ok(o && c.byProvider[p] <= o.byProvider[p], `${f.name} ${p} ≤ oracle`);
    });
    t.ok(f.attempts > 0, `${f.name}: the limiters saw attempts`);
    t.ok(f.refusals <= f.attempts);
  }
  t.ok(
    r.strategies.every((f) => f.checkpoints.length === 1),
    'a one-minute run has one checkpoint',
  );
});
