/**
 * `--trace M`: a diagnostic of the 12-hour mode. Every M simulated minutes it
 * prints, per lane (source × provider), what the provider accepted and
 * refused in those minutes and the lane's pacing state at the end of them
 * (pace factor, known-good pace, pause left, start phase, backoffs), so that
 * what a controller does over hours can be read line by line.
 */

import type { LaneState } from '../lib/core/lane-state';
import type { MemoryStore } from '../lib/store/memory';
import type { Recorder } from './mta';
import type { SimMessage } from './scenario';

interface Counts {
  accepted: number;
  refused: number;
}

/** One trace line per lane per period. */
export function traceLine(at: number, t0: number, lane: string, c: Counts, s: LaneState | undefined): string {
  const min = ((at - t0) / 60_000).toFixed(0).padStart(4);
  const head = `${min} min ${lane.padEnd(18)} ok ${String(c.accepted).padStart(5)} ref ${String(c.refused).padStart(4)}`;
  if (!s) return head;
  const pause = s.pauseUntil > at ? `${Math.round((s.pauseUntil - at) / 1000)}s` : '-';
  const phase = s.growAt > 0 ? 'start' : '';
  const cap = s.connCap > 0 && s.connCapUntil > at ? ` sessions ${s.connCap}` : '';
  return `${head}  factor ${s.factor.toFixed(4)} known ${s.known.toFixed(4)} pause ${pause} backoffs ${s.backoffs} climbs ${s.climbs}${cap} ${phase}`;
}

/** How the wrapped run names things: `provider` gives a message's provider as the engine names it (default: the simulator's name); `now` lets a quiet period print on time. */
export interface TraceNames {
  readonly provider?: (msg: SimMessage) => string;
  readonly now?: () => number;
}

/** Wraps a recorder: counts per lane and prints a line per lane every `periodMin` simulated minutes. */
export function tracing(
  inner: Recorder,
  store: MemoryStore,
  t0: number,
  periodMin: number,
  print: (line: string) => void,
  names: TraceNames = {},
): Recorder {
  const engineProvider = names.provider ?? ((msg: SimMessage): string => msg.provider);
  const periodMs = periodMin * 60_000;
  let next = t0 + periodMs;
  const counts = new Map<string, Counts>();
  const count = (msg: SimMessage, source: string): Counts => {
    const key = `${source}|${engineProvider(msg)}`;
    let c = counts.get(key);
    if (!c) counts.set(key, (c = { accepted: 0, refused: 0 }));
    return c;
  };
  const flush = (now: number): void => {
    while (now >= next) {
      const states = new Map(store.snapshot().lanes.map((l) => [`${l.lane.source}|${l.lane.provider}`, l.state]));
      for (const [key, c] of [...counts.entries()].sort()) {
        print(traceLine(next, t0, key, c, states.get(key)));
        c.accepted = 0;
        c.refused = 0;
      }
      next += periodMs;
    }
  };
  let last = t0;
  const hooks: Partial<Recorder> = {
    attempt(msg, source) {
      if (names.now) flush((last = names.now()));
      inner.attempt(msg, source);
    },
    deliver(msg, now, source) {
      last = now;
      flush(now);
      count(msg, source).accepted += 1;
      inner.deliver(msg, now, source);
    },
    throttle(msg, source) {
      flush(last);
      count(msg, source).refused += 1;
      inner.throttle(msg, source);
    },
  };
  // counters (decisions, expired, ...) are read and written on the inner recorder
  return new Proxy(inner, {
    get: (target, key, receiver) =>
      key === 'deliver' || key === 'throttle' || key === 'attempt' ? hooks[key] : Reflect.get(target, key, receiver),
  });
}
