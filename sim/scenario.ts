/**
 * One simulated situation: sources, receiving providers with their hidden
 * limits, the incident window and the offered load. Everything derives from
 * the seed and the run length, so every strategy faces the same mail.
 */

import { Prng, subSeed } from './prng';
import { gmail, microsoft, yahoo, type ProviderModel, type SimDomain, type SimSource } from './providers';

/** A message offered to the MTA. */
export interface SimMessage {
  readonly id: number;
  readonly domain: string;
  /** The provider model that receives it (for scoring only; the engine finds it by MX). */
  readonly provider: string;
  /** Epoch ms the message was queued. */
  readonly queueTime: number;
}

export interface ScenarioOptions {
  readonly seed: number;
  readonly hours: number;
  /** Messages queued at the start, in hours of the mean hidden capacity. */
  readonly backlogHours?: number;
  /** Steady (Poisson) arrivals after the start, as a multiple of the mean hidden capacity. */
  readonly arrivalRatio?: number;
}

export interface Scenario {
  readonly seed: number;
  readonly hours: number;
  /** Simulated start and end, epoch ms. */
  readonly t0: number;
  readonly endAt: number;
  readonly incidentStart: number;
  readonly incidentEnd: number;
  readonly sources: readonly SimSource[];
  /** Deliveries in flight at once over the whole MTA (Haraka's outbound concurrency). */
  readonly maxInFlight: number;
  /** A delivery lasts uniformly between these, ms. */
  readonly latencyMs: readonly [number, number];
  /** Fresh provider models (own hidden state) for one strategy's run. */
  providers(): ProviderModel[];
  readonly messages: readonly SimMessage[];
  /** Hidden capacity per provider over the run: what an oracle could deliver of the offered load. */
  readonly capacity: ReadonlyMap<string, number>;
}

/** A Thursday 01:00 UTC: a whole run stays within one UTC day for runs up to 23 h. */
const T0 = Date.UTC(2026, 10, 26, 1, 0, 0);

/** Two sending IPs: a brand-new one and one six hours into Microsoft's probation. */
export const SOURCES: readonly SimSource[] = [
  { name: 'ip1', address: '203.0.113.1', ageHours: 0 },
  { name: 'ip2', address: '203.0.113.2', ageHours: 6 },
];

function domains(list: ReadonlyArray<readonly [string, string]>, base: number): SimDomain[] {
  return list.map(([domain, mxHost], i) => ({ domain, mxHost, mxAddress: `192.0.2.${base + i}` }));
}

const MS_DOMAINS = domains(
  [
    ['contoso.example', 'contoso-example.mail.protection.outlook.com'],
    ['fabrikam.example', 'fabrikam-example.mail.protection.outlook.com'],
    ['northwind.example', 'northwind-example.mail.protection.outlook.com'],
    ['tailspin.example', 'tailspin-example.mail.protection.outlook.com'],
  ],
  10,
);
const GOOGLE_DOMAINS = domains(
  [
    ['gmail.example', 'gmail-smtp-in.l.google.com'],
    ['workspace.example', 'aspmx.l.google.com'],
  ],
  20,
);
const YAHOO_DOMAINS = domains(
  [
    ['yahoo.example', 'mta5.am0.yahoodns.net'],
    ['aol.example', 'mx-aol.mail.gm0.yahoodns.net'],
  ],
  30,
);

/** Hidden limits, messages per minute per source. */
export const HIDDEN = {
  msStart: 20,
  msMax: 200,
  msRampHours: 8,
  gmail: 60,
  yahoo: 30,
  yahooLockoutMs: 3_600_000,
} as const;

/** The incident: 30 minutes (at most a sixth of the run) starting at 40 % of the run. */
function incident(hours: number): { start: number; end: number } {
  const runMs = hours * 3_600_000;
  const start = T0 + Math.round((0.4 * runMs) / 60_000) * 60_000;
  return { start, end: start + Math.min(1_800_000, Math.round(runMs / 6 / 60_000) * 60_000) };
}

const STEP_MS = 10_000;

/** Raw hidden capacity of each provider in each 10 s step: Σ over sources of the limit. */
function capacitySteps(
  models: readonly ProviderModel[],
  sources: readonly SimSource[],
  t0: number,
  endAt: number,
): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of models) {
    const steps: number[] = [];
    for (let t = t0; t < endAt; t += STEP_MS) {
      const mid = t + STEP_MS / 2;
      steps.push(sources.reduce((sum, s) => sum + m.limitPerMin(s, mid), 0) * (STEP_MS / 60_000));
    }
    out.set(m.name, steps);
  }
  return out;
}

/** What an oracle knowing every hidden limit could deliver: a fluid queue served at the capacity. */
function oracle(steps: readonly number[], arrivals: readonly number[]): number {
  let queued = 0;
  let served = 0;
  steps.forEach((cap, i) => {
    queued += arrivals[i] ?? 0;
    const s = Math.min(queued, cap);
    queued -= s;
    served += s;
  });
  return served;
}

function models(t0: number, hours: number): ProviderModel[] {
  const inc = incident(hours);
  const ms = {
    startPerMin: HIDDEN.msStart,
    maxPerMin: HIDDEN.msMax,
    rampHours: HIDDEN.msRampHours,
    incidentStart: inc.start,
    incidentEnd: inc.end,
  };
  return [
    microsoft(ms, t0, MS_DOMAINS),
    gmail(HIDDEN.gmail, GOOGLE_DOMAINS),
    yahoo(HIDDEN.yahoo, HIDDEN.yahooLockoutMs, YAHOO_DOMAINS),
  ];
}

/** The offered load: a backlog at the start, then Poisson arrivals; providers in proportion to their capacity. */
function offer(
  rng: Prng,
  list: readonly ProviderModel[],
  raw: readonly number[],
  t0: number,
  endAt: number,
  o: Required<ScenarioOptions>,
): SimMessage[] {
  const perHour = raw.reduce((a, b) => a + b, 0) / o.hours;
  const backlog = Math.round(perHour * o.backlogHours);
  const meanGapMs = 3_600_000 / Math.max(1e-9, perHour * o.arrivalRatio);
  const out: SimMessage[] = [];
  const add = (queueTime: number): void => {
    const model = list[rng.weighted(raw)] as ProviderModel;
    const d = model.domains[Math.floor(rng.next() * model.domains.length)] as SimDomain;
    out.push({ id: out.length, domain: d.domain, provider: model.name, queueTime });
  };
  for (let i = 0; i < backlog; i++) add(t0);
  for (let t = t0 + rng.exponential(meanGapMs); t < endAt; t += rng.exponential(meanGapMs)) add(Math.floor(t));
  return out;
}

/** Builds the scenario for a seed and a run length. */
export function buildScenario(options: ScenarioOptions): Scenario {
  const o: Required<ScenarioOptions> = { backlogHours: 0.25, arrivalRatio: 1.1, ...options };
  const endAt = T0 + Math.round(o.hours * 3_600_000);
  const inc = incident(o.hours);
  const list = models(T0, o.hours);
  const steps = capacitySteps(list, SOURCES, T0, endAt);
  const raw = list.map((m) => (steps.get(m.name) ?? []).reduce((a, b) => a + b, 0));
  const messages = offer(new Prng(subSeed(o.seed, 1)), list, raw, T0, endAt, o);
  const capacity = new Map<string, number>();
  for (const m of list) {
    const s = steps.get(m.name) ?? [];
    const arrivals = new Array<number>(s.length).fill(0);
    for (const msg of messages) {
      if (msg.provider !== m.name) continue;
      const i = Math.floor((msg.queueTime - T0) / STEP_MS);
      arrivals[i] = (arrivals[i] ?? 0) + 1;
    }
    capacity.set(m.name, oracle(s, arrivals));
  }
  return {
    seed: o.seed,
    hours: o.hours,
    t0: T0,
    endAt,
    incidentStart: inc.start,
    incidentEnd: inc.end,
    sources: SOURCES,
    maxInFlight: 100,
    latencyMs: [300, 1500],
    providers: () => models(T0, o.hours),
    messages,
    capacity,
  };
}
