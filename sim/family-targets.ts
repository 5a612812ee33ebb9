/**
 * paceline's targets on the scenario family (issue 9), as a function of one
 * run's figures: test/sim/family.test.ts asserts them over several seeds.
 */

import type { FamilyFigures, Mark } from './family-metrics';

/** Shares of the oracle (%) by 10 and 60 min; refusals per 100 attempts (connects + MAILs). */
export const FAMILY_TARGETS = { minPctAt10: 80, minPctAt60: 90, maxRefusalsPer100: 3 } as const;

/** Whether paceline met every target in one run, and each miss in words. */
export interface TargetVerdict {
  readonly met: boolean;
  readonly misses: readonly string[];
}

function mark(f: FamilyFigures, minute: number): Mark | undefined {
  return f.marks.find((m) => m.minute === minute);
}

/**
 * Checks a run of at least 60 min with all three strategies: paceline ≥ 80 %
 * of the oracle at 10 min and ≥ 90 % at 60 min, ≤ 3 refusals per 100
 * attempts, more delivered than no pacing and static at 10 and 60 min (or
 * as many, when both delivered everything), and
 * nothing lost or duplicated.
 */
export function checkFamilyTargets(figures: readonly FamilyFigures[]): TargetVerdict {
  const by = (name: string): FamilyFigures | undefined => figures.find((f) => f.strategy === name);
  const p = by('paceline');
  const others = [by('no-pacing'), by('static')];
  if (!p || others.some((o) => !o))
    return { met: false, misses: ['needs the figures of paceline, no pacing and static'] };
  const misses: string[] = [];
  for (const [minute, min] of [
    [10, FAMILY_TARGETS.minPctAt10],
    [60, FAMILY_TARGETS.minPctAt60],
  ] as const) {
    const m = mark(p, minute);
    if (!m) {
      misses.push(`no figures at ${minute} min (run at least 60 min)`);
      continue;
    }
    if (m.pctOfOracle < min)
      misses.push(`${m.pctOfOracle.toFixed(1)} % of the oracle at ${minute} min (target ≥ ${min} %)`);
    for (const o of others as FamilyFigures[]) {
      const theirs = mark(o, minute)?.delivered ?? 0;
      // ahead, or level when both have delivered everything
      const level = m.delivered === theirs && m.delivered === p.submitted;
      if (m.delivered < theirs || (m.delivered === theirs && !level))
        misses.push(`${m.delivered} delivered at ${minute} min, not more than ${o.strategy} (${theirs})`);
    }
  }
  if (p.refusalsPer100 > FAMILY_TARGETS.maxRefusalsPer100)
    misses.push(
      `${p.refusalsPer100.toFixed(2)} refusals per 100 attempts (target ≤ ${FAMILY_TARGETS.maxRefusalsPer100})`,
    );
  if (p.lost > 0 || p.duplicated > 0) misses.push(`${p.lost} lost, ${p.duplicated} duplicated (target 0)`);
  return { met: misses.length === 0, misses };
}
