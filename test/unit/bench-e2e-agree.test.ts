/** bench/e2e-agree.ts: the simulator's figures in the benchmark's shape, and the agreement lines. */
import t from 'tap';
import { agreement, ranking, simulatedFigures } from '../../bench/e2e-agree';
import { buildReport } from '../../bench/e2e-report';
import { drawScenario } from '../../sim/family';

t.test('the simulator plays the benchmark scenario; figures in the same shape; agreement compares them', async (t) => {
  const s = drawScenario(2, { messages: 120 });
  const sim = await simulatedFigures(s, ['paceline', 'no-pacing', 'static'], 3);
  t.same(
    sim.map((f) => f.name),
    ['paceline', 'no-pacing', 'static'],
  );
  for (const f of sim) {
    t.equal(f.delivered + f.queued + f.bounced + f.lost, f.submitted, `${f.name}: accounted for`);
    t.equal(f.lost, 0, `${f.name}: nothing lost`);
    t.same(
      f.checkpoints.map((c) => c.minutes),
      [2, 3],
      `${f.name}: checkpoints at 2 min and the end`,
    );
  }
  const real = buildReport(s, 3, { start: [0, 0, 0], end: [0, 0, 0] }, sim);
  const lines = agreement(real, sim);
  t.match(
    lines[1],
    /@2min: ranking real .* \(same\); paceline \d+% of the oracle real, \d+% simulated/,
    'a run agrees with itself',
  );
  const swapped = sim.map((f) =>
    f.name === 'paceline' ? { ...f, checkpoints: f.checkpoints.map((c) => ({ ...c, delivered: -1 })) } : f,
  );
  t.match(agreement(real, swapped).join('\n'), /DIFFERENT/, 'a different order is reported');
  t.equal(ranking(swapped, 0).at(-1), 'paceline');
});
