/**
 * The 12-hour scenario mode: minute-window provider models (sim/providers.ts)
 * answer each delivery at its end, after a latency of 0.3–1.5 s; there are no
 * sessions and a refusal costs nothing but the attempt.
 */

import type { Classifier } from '../lib/engine/outcomes';
import { figures, Tally, type Figures } from './metrics';
import { Mta, type SimClock, type Wire } from './mta';
import { enginePacer } from './pacer';
import { MemoryStore } from '../lib/store/memory';
import { tracing } from './trace';
import { Prng, subSeed } from './prng';
import type { ProviderModel, SimSource } from './providers';
import type { Scenario } from './scenario';
import type { Strategy } from './strategies';

/** Each delivery lasts a latency drawn from the scenario; the provider model answers at its end. */
function windowWire(sc: Scenario): Wire {
  const rng = new Prng(subSeed(sc.seed, 2));
  const models = new Map(sc.providers().map((m) => [m.name, m]));
  const sources = new Map<string, SimSource>(sc.sources.map((s) => [s.name, s]));
  return {
    start(msg, d, now, schedule) {
      const model = models.get(msg.provider) as ProviderModel;
      if (d.provider !== model.name) return false;
      const source = sources.get(d.source.name) as SimSource;
      const [lo, hi] = sc.latencyMs;
      const end = now + Math.round(rng.between(lo, hi));
      schedule(end, () => model.answer(source, end));
      return true;
    },
  };
}

/** `--trace`: print each lane's counts and state every `periodMin` simulated minutes (sim/trace.ts). */
export interface TraceOptions {
  readonly periodMin: number;
  readonly print: (line: string) => void;
}

/** Runs one strategy through the scenario and returns its figures. */
export async function simulate(
  sc: Scenario,
  strategy: Strategy,
  classifier: Classifier,
  trace?: TraceOptions,
): Promise<Figures> {
  const clock: SimClock = { now: sc.t0 };
  const tally = new Tally(sc);
  const store = new MemoryStore(() => clock.now);
  const recorder = trace ? tracing(tally, store, sc.t0, trace.periodMin, trace.print) : tally;
  const mta = new Mta(sc, clock, enginePacer(strategy, clock, classifier, store), windowWire(sc), recorder);
  const queued = await mta.run();
  return figures(strategy.name, sc, tally, queued);
}
