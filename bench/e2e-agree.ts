/**
 * The simulator beside the real run: the same family scenario played through
 * the simulator (sim/family-run.ts), its figures derived by the benchmark's
 * own figures() from the same outcome shape, and how far the two agree: the
 * order of the strategies at each checkpoint, and paceline's share of the
 * oracle in each.
 */
import { FAMILY_T0, runOutcome } from '../sim/family-run';
import type { FamilyScenario } from '../sim/family';
import { figures, type ScenarioReport, type StrategyFigures } from './e2e-report';
import type { StrategyName } from './e2e-strategy';

/** The simulator's figures for `names` on scenario `s`, as the real run's. */
export async function simulatedFigures(
  s: FamilyScenario,
  names: readonly StrategyName[],
  minutes: number,
): Promise<StrategyFigures[]> {
  const out: StrategyFigures[] = [];
  for (const name of names) out.push(figures(s, await runOutcome(s, name, minutes), FAMILY_T0, minutes));
  return out;
}

/** Strategy names best first by delivered at checkpoint `i`. */
export function ranking(rows: readonly StrategyFigures[], i: number): string[] {
  return [...rows]
    .sort((a, b) => (b.checkpoints[i]?.delivered ?? 0) - (a.checkpoints[i]?.delivered ?? 0))
    .map((f) => f.name);
}

/** Lines comparing the real run with the simulated one, checkpoint by checkpoint. */
export function agreement(real: ScenarioReport, sim: readonly StrategyFigures[]): string[] {
  const lines = [`seed ${real.seed}: real Haraka vs simulator (same scenario)`];
  real.oracle.forEach((o, i) => {
    const r = ranking(real.strategies, i);
    const s = ranking(sim, i);
    const share = (rows: readonly StrategyFigures[]): string =>
      rows.find((f) => f.name === 'paceline')?.checkpoints[i]?.pctOracle.toFixed(0) ?? '-';
    const same = r.join('>') === s.join('>');
    lines.push(
      `  @${o.minutes}min: ranking real ${r.join(' > ')}, simulator ${s.join(' > ')} (${same ? 'same' : 'DIFFERENT'}); paceline ${share(real.strategies)}% of the oracle real, ${share(sim)}% simulated`,
    );
  });
  const refusals = (rows: readonly StrategyFigures[]): string =>
    rows.map((f) => `${f.name} ${f.refusalsPer100.toFixed(1)}`).join(', ');
  lines.push(`  refusals/100: real ${refusals(real.strategies)}; simulated ${refusals(sim)}`);
  return lines;
}
