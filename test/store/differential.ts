/**
 * The randomised differential test: seeded random sequences of store calls
 * (acquire, claim of earlier reservations, release of earlier leases,
 * reactions (with or without when the refused message was sent), hits,
 * provider incidents, warm-up records), with limits changing now and then
 * (some with a start phase) and times crossing midnight, fed to two stores in lockstep.
 * Every result and every state after every step must be identical. The seed
 * is printed; PACELINE_SEED=<seed> replays a run.
 */

import type { Test } from 'tap';
import { CATEGORIES } from '../../lib/core/adapt';
import { DAY_MS } from '../../lib/core/day';
import type { LaneLimits, LanePolicy } from '../../lib/core/lane-state';
import type { PacingStore } from '../../lib/store/types';
import { execute, laneSummary, rate, summary, summaryDiff, T0, type Step, type Target } from './steps';

/** mulberry32: a small, fast, seedable PRNG; returns floats in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const POLICY: LanePolicy = {
  recoverStep: 0.25,
  recoverIntervalMs: 60_000,
  trialIntervalMs: 600_000,
  climbStep: 0.1,
  start: 1,
  startIntervalMs: 10_000,
};
/** Start phases: a fresh lane begins at a share of its pace and doubles it per clean interval. */
const START: LanePolicy = { ...POLICY, start: 0.1, startIntervalMs: 10_000 };
const START_SLOW: LanePolicy = { ...POLICY, start: 0.3, startIntervalMs: 45_000 };
const LIMITS: readonly LaneLimits[] = [
  { rate: rate('30/min') },
  { rate: rate('7/min,burst=3'), concurrency: 2 },
  { rate: rate('100/h'), perDay: 5 },
  { concurrency: 1 },
  {},
  { rate: rate('1/h') },
  { rate: rate('3/s,burst=5'), concurrency: 3, perDay: 20, policy: POLICY },
  { rate: rate('13/min'), dayOffsetMs: 2 * 3_600_000 },
  { rate: rate('11/h,burst=2'), perDay: 4, dayOffsetMs: -5 * 3_600_000, policy: POLICY },
  { rate: rate('60/min,burst=4'), concurrency: 3, policy: START },
  { rate: rate('3/s,burst=5'), concurrency: 2, policy: START },
  { rate: rate('20/min'), perDay: 30, policy: START_SLOW },
  { concurrency: 2, policy: START },
];
const REACTIONS = [...CATEGORIES, 'forgive'] as const;
const HOUR = 3_600_000;
/** Sequences stay shorter than the memory store's two-day idle sweep. */
const MAX_SPAN = 40 * HOUR;

interface Seq {
  readonly rng: () => number;
  readonly start: number;
  at: number;
  ids: number;
  limits: [LaneLimits, LaneLimits];
  /** Leases granted, with when (ms after T0). */
  leases: Array<{ lane: 0 | 1; id: string; at: number }>;
  reservations: Array<{ lane: 0 | 1; id: string; slot: number; epoch: number }>;
}

function pick<T>(rng: () => number, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)] as T;
}

function advance(s: Seq): void {
  const r = s.rng();
  let step =
    r < 0.3
      ? 0
      : r < 0.6
        ? Math.floor(s.rng() * 3000)
        : r < 0.85
          ? Math.floor(s.rng() * 120_000)
          : r < 0.95
            ? Math.floor(s.rng() * HOUR)
            : -1;
  if (step < 0)
    step = Math.max(0, (Math.floor((T0 + s.at) / DAY_MS) + 1) * DAY_MS - T0 - s.at - 2000 + Math.floor(s.rng() * 4000));
  if (s.at + step - s.start > MAX_SPAN) step = Math.floor(s.rng() * 3000);
  s.at += step;
}

/** When a refused message was sent (ms after T0): a lease's start, a while ago, or unknown. */
function sentAt(s: Seq, lane: 0 | 1): number | undefined {
  const r = s.rng();
  const mine = s.leases.filter((l) => l.lane === lane);
  if (r < 0.25) return undefined;
  if (r < 0.6 && mine.length > 0) return pick(s.rng, mine).at;
  return Math.max(s.start, s.at - Math.floor(s.rng() * pick(s.rng, [3000, 120_000, HOUR])));
}

/** The next call of a sequence, from what earlier results left to claim or release. */
function nextStep(s: Seq): Step {
  const { rng } = s;
  const lane: 0 | 1 = rng() < 0.7 ? 0 : 1;
  if (rng() < 0.04) s.limits[lane] = pick(rng, LIMITS);
  const base = { at: s.at, lane, limits: s.limits[lane] };
  const r = rng();
  const reservation = s.reservations.length > 0 && r < 0.45 && r >= 0.33 ? pick(rng, s.reservations) : undefined;
  if (reservation) {
    const epoch = rng() < 0.1 ? reservation.epoch + 1 : reservation.epoch;
    return {
      ...base,
      lane: reservation.lane,
      limits: s.limits[reservation.lane],
      op: 'claim',
      id: reservation.id,
      slot: reservation.slot,
      epoch,
      leaseMs: pick(rng, [500, 5000, 600_000]),
    };
  }
  if (r < 0.45)
    return {
      ...base,
      op: 'acquire',
      mode: rng() < 0.5 ? 'now' : 'reserve',
      id: `m${s.ids++}`,
      leaseMs: pick(rng, [500, 5000, 600_000]),
    };
  if (r < 0.6 && s.leases.length > 0 && rng() < 0.2) {
    const lease = pick(rng, s.leases);
    const ids =
      rng() < 0.5
        ? [lease.id]
        : [lease.id, ...s.leases.filter((l) => l.lane === lease.lane).map((l) => l.id), 'nobody'];
    return { ...base, lane: lease.lane, op: 'renew', ids: [...new Set(ids)], ttlMs: pick(rng, [500, 5000, 60_000]) };
  }
  if (r < 0.6) {
    const lease = s.leases.length > 0 && rng() < 0.9 ? pick(rng, s.leases) : { lane, id: 'nobody', at: s.at };
    const durationMs = pick(rng, [undefined, Math.floor(rng() * 10_000), rng() * 3000, -5, Number.NaN]);
    return {
      ...base,
      lane: lease.lane,
      limits: s.limits[lease.lane],
      op: 'release',
      id: lease.id,
      delivered: rng() < 0.7,
      durationMs,
    };
  }
  if (r < 0.72) {
    const category = rng() < 0.4 ? 'throttle' : pick(rng, REACTIONS);
    return {
      ...base,
      op: 'react',
      category,
      durationMs: rng() < 0.2 ? Math.floor(rng() * HOUR) : undefined,
      sentAt: sentAt(s, lane),
    };
  }
  if (r < 0.77)
    return {
      ...base,
      op: 'hit',
      ...pick(rng, [
        { rule: 'r1', windowMs: 60_000 },
        { rule: 'r2', windowMs: 600_000 },
      ]),
    };
  if (r < 0.83) return { ...base, op: 'providerThrottle', sources: pick(rng, [2, 3]) };
  if (r < 0.88) return { ...base, op: 'providerProbe' };
  if (r < 0.9) return { ...base, op: 'providerDelivered' };
  if (r < 0.93) return { ...base, op: 'peek' };
  const today = Math.floor((T0 + s.at) / DAY_MS);
  if (r < 0.95) return { ...base, op: 'sourceStart', today };
  if (r < 0.97) return { ...base, op: 'warmGet' };
  const record = {
    start: today - Math.floor(rng() * 5),
    step: 1 + Math.floor(rng() * 5),
    evaluated: today - Math.floor(rng() * 3),
    badDays: Math.floor(rng() * 2),
  };
  return { ...base, op: 'warmSave', record };
}

/** Remembers leases to release and reservations to claim, from the reference result. */
function learn(s: Seq, step: Step, result: string): void {
  if (step.op !== 'acquire' && step.op !== 'claim') return;
  const lane = step.lane ?? 0;
  if (step.op === 'claim' && !result.startsWith('wait'))
    s.reservations = s.reservations.filter((r) => r.id !== step.id);
  if (result === 'granted') s.leases.push({ lane, id: step.id, at: step.at });
  const m = /^reserved@\+(\S+) s\+(\S+) e(\d+)$/.exec(result);
  if (m) s.reservations.push({ lane, id: step.id, slot: Number(m[2]), epoch: Number(m[3]) });
}

export interface DifferentialOptions {
  readonly sequences: number;
  readonly steps?: number;
  /** The reference store; `clock` is the sequence's fake clock. */
  readonly memory: (clock: () => number) => PacingStore;
  /** The store under test, fresh (or isolated by prefix) for sequence `i`. */
  readonly redis: (clock: () => number, i: number) => PacingStore;
}

/** Runs the sequences; one assertion per sequence, with the first differing step when they differ. */
export async function runDifferential(t: Test, opts: DifferentialOptions): Promise<void> {
  const seed = process.env.PACELINE_SEED ? Number(process.env.PACELINE_SEED) : Date.now() % 4_294_967_296;
  t.comment(`seed ${seed} (replay: PACELINE_SEED=${seed})`);
  const master = prng(seed);
  for (let i = 0; i < opts.sequences; i++) {
    const rng = prng(Math.floor(master() * 4_294_967_296));
    const start = Math.floor(rng() * 10 * DAY_MS);
    const s: Seq = {
      rng,
      start,
      at: start,
      ids: 0,
      limits: [pick(rng, LIMITS), pick(rng, LIMITS)],
      leases: [],
      reservations: [],
    };
    let now = 0;
    const setNow = (v: number) => (now = v);
    const lanes = [
      { source: 'x', provider: 'q' },
      { source: 'y', provider: 'q' },
    ] as const;
    const a: Target = { store: opts.memory(() => now), lanes, limits: {} };
    const b: Target = { store: opts.redis(() => now, i), lanes, limits: {} };
    let diff: string | undefined;
    for (let n = 0; n < (opts.steps ?? 40) && !diff; n++) {
      advance(s);
      const step = nextStep(s);
      const want = `${await execute(a, step, setNow)} :: ${await summary(a, step.at, setNow)}`;
      const got = `${await execute(b, step, setNow)} :: ${await summary(b, step.at, setNow)}`;
      if (got !== want) {
        const [wr, ws] = want.split(' :: ') as [string, string];
        const [gr, gs] = got.split(' :: ') as [string, string];
        const fields = summaryDiff(ws, gs);
        diff = `step ${n} ${JSON.stringify(step)}: ${wr === gr ? '' : `result memory ${wr}, redis ${gr}; `}${fields ? `state memory → redis: ${fields}` : ''}\n  memory: ${want}\n  redis:  ${got}`;
      }
      learn(s, step, want.split(' :: ')[0] as string);
    }
    if (!diff) diff = await compareLanes(a.store, b.store);
    if (diff) t.fail(`sequence ${i} (seed ${seed}) differs at ${diff}`);
  }
  t.pass(`${opts.sequences} random sequences gave identical results and states`);
}

/** Both stores list the same lanes with the same states. */
async function compareLanes(a: PacingStore, b: PacingStore): Promise<string | undefined> {
  const render = async (store: PacingStore) =>
    (await store.lanes()).value
      .map(({ lane, state }) => `${lane.source}|${lane.provider} ${laneSummary(state)}`)
      .sort()
      .join('\n');
  const [want, got] = [await render(a), await render(b)];
  return want === got ? undefined : `lanes()\n  memory: ${want}\n  redis:  ${got}`;
}
