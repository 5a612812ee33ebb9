/**
 * The store conformance table: (setup steps, step) → (expected result,
 * expected state), run against every PacingStore (memory, Redis, Redis
 * Cluster). A new behaviour of lib/core is one more row; a new store is one
 * more call of runTable. Times are ms after T0 (01:00 UTC); MIDNIGHT is the
 * next 00:00 UTC. States list only what differs from an empty lane.
 */

import type { Test } from 'tap';
import { DEFAULT_POLICY, type LaneLimits } from '../../lib/core/lane-state';
import { execute, MIDNIGHT, rate, summary, summaryFields, type Step, type Target } from './steps';

export interface Case {
  readonly name: string;
  readonly limits: LaneLimits;
  readonly setup: readonly Step[];
  readonly step: Step;
  /** The step's result (see execute()). */
  readonly want: string;
  /** The state right after the step (see summary()). */
  readonly state: string;
}

const R30: LaneLimits = { rate: rate('30/min') };
const R60: LaneLimits = { rate: rate('60/min') };
const now = (at: number, id: string, extra: Partial<Step> = {}): Step =>
  ({ op: 'acquire', mode: 'now', id, at, ...extra }) as Step;
const reserve = (at: number, id: string, extra: Partial<Step> = {}): Step =>
  ({ op: 'acquire', mode: 'reserve', id, at, ...extra }) as Step;
const claim = (at: number, id: string, slot: number, epoch = 0): Step => ({ op: 'claim', id, at, slot, epoch });
const react = (
  at: number,
  category: Extract<Step, { op: 'react' }>['category'],
  durationMs?: number,
  sentAt?: number,
): Step => ({ op: 'react', category, at, durationMs, sentAt });
const release = (at: number, id: string): Step => ({ op: 'release', id, at });
/** Sends `n` messages `gap` ms apart from `at`, each accepted half a second later. */
const delivered = (at: number, n: number, gap = 1000): Step[] =>
  Array.from({ length: n }, (_, i) => [now(at + i * gap, `d${i}`), release(at + i * gap + 500, `d${i}`)]).flat();
/** Sends `n` messages `gap` ms apart from `at`, each accepted after `durationMs` (ids e0, e1, ...), in time order. */
const deliveredIn = (at: number, n: number, gap: number, durationMs: number): Step[] =>
  Array.from({ length: n }, (_, i) => [
    now(at + i * gap, `e${i}`),
    { op: 'release', id: `e${i}`, at: at + i * gap + durationMs, durationMs } as Step,
  ])
    .flat()
    .sort((a, b) => a.at - b.at);
/** A start phase at a quarter of 120/min: 2 accepted deliveries per 10 s grow it (× START_GROWTH, 1.5). */
const START_QUARTER: LaneLimits = {
  rate: rate('120/min'),
  policy: { ...DEFAULT_POLICY, start: 0.25, startIntervalMs: 10_000 },
};
/** A start phase at a tenth of 600/min: 1 s apart, 4 accepted deliveries (0.4 of 10) per 10 s grow it to 0.15. */
const START: LaneLimits = { rate: rate('600/min'), policy: { ...DEFAULT_POLICY, start: 0.1, startIntervalMs: 10_000 } };
/** A start phase at 0.7 of 60/min: 2 accepted deliveries per 10 s grow it (× 1.5) to the configured pace. */
const START_HIGH: LaneLimits = {
  rate: rate('60/min'),
  policy: { ...DEFAULT_POLICY, start: 0.7, startIntervalMs: 10_000 },
};
const throttle = (at: number, lane: 0 | 1): Step => ({ op: 'providerThrottle', sources: 2, at, lane });
const warmSave = (evaluated: number, step: number): Step => ({
  op: 'warmSave',
  record: { start: 20_000, step, evaluated, badDays: 0 },
  at: 0,
});
const lift = (at: number): Step => ({ op: 'laneControl', control: 'lift', at });
const pause = (at: number, target: 'lane' | 'provider' | 'source', forMs: number): Step => ({
  op: 'pause',
  target,
  forMs,
  at,
});
const INCIDENT = [throttle(0, 0), throttle(0, 1)];
const TABLE = 'tat=+2000 rateKey=30/min day=+0';

export const CASES: readonly Case[] = [
  {
    name: 'rate: now mode waits one interval',
    limits: R30,
    setup: [now(0, 'a')],
    step: now(0, 'b'),
    want: 'wait@+2000:rate',
    state: `${TABLE} dayCount=1 departAt=+2000 minute=+0 minuteCount=1 leases=a@+600000`,
  },
  {
    name: 'rate: the next slot is one interval later',
    limits: R30,
    setup: [now(0, 'a')],
    step: now(2000, 'b'),
    want: 'granted',
    state:
      'tat=+4000 rateKey=30/min day=+0 dayCount=2 departAt=+4000 minute=+0 minuteCount=2 leases=a@+600000,b@+602000',
  },
  {
    name: 'rate: reserve mode grants a free slot',
    limits: R30,
    setup: [],
    step: reserve(0, 'a'),
    want: 'granted',
    state: `${TABLE} dayCount=1 departAt=+2000 minute=+0 minuteCount=1 leases=a@+600000`,
  },
  {
    name: 'burst: three at once, the fourth books the next slot',
    limits: { rate: rate('60/min,burst=3') },
    setup: [now(0, 'a'), now(0, 'b'), now(0, 'c')],
    step: reserve(0, 'd'),
    want: 'reserved@+1000 s+1000 e0',
    state:
      'tat=+4000 rateKey=60/min,burst=3 day=+0 dayCount=4 departAt=+3000 minute=+0 minuteCount=3 leases=a@+600000,b@+600000,c@+600000',
  },
  {
    name: 'burst: idle time refills it, never beyond',
    limits: { rate: rate('60/min,burst=2') },
    setup: [now(0, 'a'), now(60_000, 'b'), now(60_000, 'c')],
    step: now(60_000, 'd'),
    want: 'wait@+61000:rate',
    state:
      'tat=+62000 rateKey=60/min,burst=2 day=+0 dayCount=3 departAt=+62000 minute=+1 minuteCount=2 leases=a@+600000,b@+660000,c@+660000',
  },
  {
    name: 'reservations are booked in arrival order',
    limits: R30,
    setup: [now(0, 'a'), reserve(0, 'b'), reserve(0, 'c')],
    step: reserve(100, 'd'),
    want: 'reserved@+6000 s+6000 e0',
    state: 'tat=+8000 rateKey=30/min day=+0 dayCount=4 departAt=+2000 minute=+0 minuteCount=1 leases=a@+600000',
  },
  {
    name: 'daily: a full day waits for midnight',
    limits: { perDay: 2 },
    setup: [now(0, 'a'), now(1, 'b')],
    step: reserve(2, 'c'),
    want: `wait@+${MIDNIGHT}:daily`,
    state: 'day=+0 dayCount=2 minute=+0 minuteCount=2 leases=a@+600000,b@+600001',
  },
  {
    name: 'daily: a new day has a new budget',
    limits: { perDay: 2 },
    setup: [now(0, 'a'), now(1, 'b'), now(2, 'c')],
    step: now(MIDNIGHT, 'd'),
    want: 'granted',
    state: `day=+1 dayCount=1 prevDay=+0 prevDayCount=2 minute=+1380 minuteCount=1 leases=d@+${MIDNIGHT + 600_000}`,
  },
  {
    name: 'a reservation never crosses midnight',
    limits: { rate: rate('1/h') },
    setup: [now(MIDNIGHT - 1_800_000, 'a')],
    step: reserve(MIDNIGHT - 1_799_999, 'b'),
    want: `wait@+${MIDNIGHT + 1_800_000}:rate`,
    state: `tat=+${MIDNIGHT + 1_800_000} rateKey=1/h day=+0 dayCount=1 departAt=+${MIDNIGHT + 1_800_000} minute=+1350 minuteCount=1 leases=a@+${MIDNIGHT - 1_200_000}`,
  },
  {
    name: 'concurrency: a full lane waits the mean delivery time',
    limits: { concurrency: 2 },
    setup: [now(0, 'a'), now(0, 'b')],
    step: reserve(0, 'c'),
    want: 'wait@+1000:concurrency',
    state: 'day=+0 dayCount=2 minute=+0 minuteCount=2 leases=a@+600000,b@+600000',
  },
  {
    name: 'concurrency: or until the first lease expires, when sooner',
    limits: { concurrency: 1 },
    setup: [now(0, 'a', { leaseMs: 500 })],
    step: now(100, 'b'),
    want: 'wait@+500:concurrency',
    state: 'day=+0 dayCount=1 minute=+0 minuteCount=1 leases=a@+500',
  },
  {
    name: 'concurrency: release frees the slot and learns the duration',
    limits: { concurrency: 2 },
    setup: [now(0, 'a'), now(0, 'b'), { op: 'release', id: 'a', durationMs: 5000, at: 5000 }],
    step: now(5000, 'c'),
    want: 'granted',
    state:
      'day=+0 dayCount=3 meanDeliveryMs=1800 minute=+0 minuteCount=3 acceptMinute=+0 acceptCount=1 acceptedAt=+5000 leases=b@+600000,c@+605000',
  },
  {
    name: 'concurrency: expired leases never leak',
    limits: { concurrency: 1 },
    setup: [now(0, 'a')],
    step: now(600_000, 'b'),
    want: 'granted',
    state: 'day=+0 dayCount=2 minute=+10 minuteCount=1 leases=b@+1200000',
  },
  {
    name: 'renew: a live lease expires ttl from now, never earlier; an unknown id is ignored',
    limits: { concurrency: 2 },
    setup: [now(0, 'a', { leaseMs: 60_000 }), now(0, 'b', { leaseMs: 60_000 })],
    step: { op: 'renew', ids: ['a', 'x'], ttlMs: 60_000, at: 20_000 },
    want: 'renewed 1',
    state: 'day=+0 dayCount=2 minute=+0 minuteCount=2 leases=b@+60000,a@+80000',
  },
  {
    name: 'renew: a lease renewed before it expires keeps its slot',
    limits: { concurrency: 1 },
    setup: [now(0, 'a', { leaseMs: 60_000 }), { op: 'renew', ids: ['a'], ttlMs: 60_000, at: 50_000 }],
    step: now(70_000, 'b'),
    want: 'wait@+71000:concurrency',
    state: 'day=+0 dayCount=1 minute=+0 minuteCount=1 leases=a@+110000',
  },
  {
    name: 'renew: an expired lease stays expired',
    limits: { concurrency: 1 },
    setup: [now(0, 'a', { leaseMs: 60_000 })],
    step: { op: 'renew', ids: ['a'], ttlMs: 60_000, at: 60_000 },
    want: 'renewed 0',
    state: 'day=+0 dayCount=1 minute=+0 minuteCount=1 leases=a@+60000',
  },
  {
    name: 'renew: a shorter ttl never shortens a lease',
    limits: { concurrency: 1 },
    setup: [now(0, 'a')],
    step: { op: 'renew', ids: ['a'], ttlMs: 1000, at: 1000 },
    want: 'renewed 1',
    state: 'day=+0 dayCount=1 minute=+0 minuteCount=1 leases=a@+600000',
  },
  {
    name: "releaseStale: a restarted node drops its earlier boots' leases on every lane, keeps its own and others'",
    limits: { concurrency: 4 },
    setup: [
      now(0, 'n1/b1/x'),
      now(0, 'n1/b2/y'),
      now(0, 'n10/b1/z'),
      now(0, 'n1/b1/w', { lane: 1 }),
      now(0, 'n2/b1/v', { lane: 1 }),
    ],
    step: { op: 'releaseStale', node: 'n1/', owner: 'n1/b2/', at: 1000 },
    want: 'dropped 2',
    state:
      'day=+0 dayCount=3 minute=+0 minuteCount=3 leases=n1/b2/y@+600000,n10/b1/z@+600000 | lane1 day=+0 dayCount=2 minute=+0 minuteCount=2 leases=n2/b1/v@+600000',
  },
  {
    name: 'releaseStale: the freed slots are free at once',
    limits: { concurrency: 1 },
    setup: [now(0, 'n1/b1/x'), { op: 'releaseStale', node: 'n1/', owner: 'n1/b2/', at: 1000 }],
    step: now(1000, 'n1/b2/y'),
    want: 'granted',
    state: 'day=+0 dayCount=2 minute=+0 minuteCount=2 leases=n1/b2/y@+601000',
  },
  {
    name: 'release without a duration keeps the estimate',
    limits: { concurrency: 2 },
    setup: [now(0, 'a')],
    step: { op: 'release', id: 'a', delivered: false, at: 3000 },
    want: 'ok',
    state: 'day=+0 dayCount=1 minute=+0 minuteCount=1',
  },
  {
    name: 'claim early: waits for the reserved slot',
    limits: R30,
    setup: [now(0, 'a'), reserve(0, 'b')],
    step: claim(1000, 'b', 2000),
    want: 'wait@+2000:rate',
    state: 'tat=+4000 rateKey=30/min day=+0 dayCount=2 departAt=+2000 minute=+0 minuteCount=1 leases=a@+600000',
  },
  {
    name: 'claim on time: a lease, no new rate slot',
    limits: R30,
    setup: [now(0, 'a'), reserve(0, 'b')],
    step: claim(2000, 'b', 2000),
    want: 'granted',
    state:
      'tat=+4000 rateKey=30/min day=+0 dayCount=2 departAt=+4000 minute=+0 minuteCount=2 leases=a@+600000,b@+602000',
  },
  {
    name: 'claim late: still granted',
    limits: R30,
    setup: [now(0, 'a'), reserve(0, 'b')],
    step: claim(50_000, 'b', 2000),
    want: 'granted',
    state:
      'tat=+4000 rateKey=30/min day=+0 dayCount=2 departAt=+52000 minute=+0 minuteCount=2 leases=a@+600000,b@+650000',
  },
  {
    name: 'a late claim that finds the lane busy books again, one interval on',
    limits: R30,
    setup: [now(0, 'a'), reserve(0, 'b'), reserve(0, 'c'), claim(50_000, 'b', 2000)],
    step: claim(50_000, 'c', 4000),
    want: 'reserved@+52000 s+50000 e0',
    state:
      'tat=+52000 rateKey=30/min day=+0 dayCount=3 departAt=+52000 minute=+0 minuteCount=2 leases=a@+600000,b@+650000',
  },
  {
    name: 'claim on a full lane waits for concurrency',
    limits: { rate: rate('30/min'), concurrency: 1 },
    setup: [now(0, 'a', { leaseMs: 1500 }), reserve(1500, 'b'), reserve(1500, 'd'), claim(2000, 'b', 2000)],
    step: claim(4000, 'd', 4000),
    want: 'wait@+5000:concurrency',
    state: 'tat=+6000 rateKey=30/min day=+0 dayCount=3 departAt=+4000 minute=+0 minuteCount=2 leases=b@+602000',
  },
  // a changed rate rescales the slot clock: what is left of the old interval (3599 of 3600 s) counts as that share of the new one
  {
    name: 'a raised rate: the next slot is what is left of the old interval, at the new rate',
    limits: { rate: rate('1/h') },
    setup: [now(0, 'a')],
    step: now(1000, 'b', { limits: R30 }),
    want: 'wait@+2999.4443359375:rate',
    state:
      'tat=+3600000 vAt=+1000 vOrigin=+1000 scale=1800 rateKey=30/min day=+0 dayCount=1 minute=+0 minuteCount=1 leases=a@+600000',
  },
  {
    name: 'a raised rate moves slots booked at the old rate earlier',
    limits: R30,
    setup: [now(0, 'a'), reserve(0, 'b'), reserve(0, 'c')],
    step: { op: 'claim', id: 'c', at: 1000, slot: 4000, epoch: 0, limits: R60 },
    want: 'wait@+2500:rate',
    state:
      'tat=+6000 vAt=+1000 vOrigin=+1000 scale=2 rateKey=60/min day=+0 dayCount=3 minute=+0 minuteCount=1 leases=a@+600000',
  },
  {
    name: 'a raised rate: a new booking queues after the old ones, at the new spacing',
    limits: R30,
    setup: [now(0, 'a'), reserve(0, 'b'), reserve(0, 'c')],
    step: reserve(1000, 'd', { limits: R60 }),
    want: 'reserved@+3500 s+6000 e0',
    state:
      'tat=+8000 vAt=+1000 vOrigin=+1000 scale=2 rateKey=60/min day=+0 dayCount=4 minute=+0 minuteCount=1 leases=a@+600000',
  },
  {
    name: 'a lowered rate moves slots booked at the old rate later',
    limits: R60,
    setup: [now(0, 'a'), reserve(0, 'b'), reserve(0, 'c')],
    step: { op: 'claim', id: 'c', at: 500, slot: 2000, epoch: 0, limits: R30 },
    want: 'wait@+3500:rate',
    state:
      'tat=+3000 vAt=+500 vOrigin=+500 scale=0.5 rateKey=30/min day=+0 dayCount=3 minute=+0 minuteCount=1 leases=a@+600000',
  },
  {
    name: 'a rate removed and set again starts afresh',
    limits: R30,
    setup: [now(0, 'a'), reserve(0, 'b'), now(500, 'c', { limits: {} })],
    step: now(1000, 'd', { limits: R60 }),
    want: 'granted',
    state:
      'tat=+2000 rateKey=60/min day=+0 dayCount=4 departAt=+2000 minute=+0 minuteCount=3 leases=a@+600000,c@+600500,d@+601000',
  },
  {
    name: 'peek of missing lanes reads them as empty',
    limits: R30,
    setup: [],
    step: { op: 'peek', at: 0 },
    want: 'now +0',
    state: '',
  },
  {
    name: 'release on a missing lane creates nothing',
    limits: R30,
    setup: [],
    step: { op: 'release', id: 'x', at: 0 },
    want: 'ok',
    state: '',
  },
  {
    name: 'throttle: halves the pace and pauses',
    limits: R30,
    setup: [now(0, 'a')],
    step: react(1000, 'throttle'),
    want: 'slowed',
    state:
      'tat=+2000 vAt=+61000 vOrigin=+1000 rateKey=30/min day=+0 dayCount=1 dayThrottles=1 factor=0.5 pauseUntil=+61000 sameEventUntil=+71000 recoverAt=+361000 climbMs=600000 departAt=+61000 minute=+0 minuteCount=1 leases=a@+600000',
  },
  {
    name: 'throttle: within the same-event window it is one event',
    limits: R30,
    setup: [react(1000, 'throttle')],
    step: react(2000, 'throttle'),
    want: 'grouped',
    state:
      'tat=+1000 vAt=+61000 vOrigin=+1000 day=+0 dayThrottles=2 factor=0.5 pauseUntil=+61000 sameEventUntil=+71000 recoverAt=+361000 climbMs=600000 departAt=+61000',
  },
  {
    name: 'throttle: replies until the pause and the same-event window end are the same event',
    limits: R30,
    setup: [react(1000, 'throttle')],
    step: react(70_999, 'throttle'),
    want: 'grouped',
    state:
      'tat=+1000 vAt=+61000 vOrigin=+1000 day=+0 dayThrottles=2 factor=0.5 sameEventUntil=+71000 recoverAt=+361000 climbMs=600000 departAt=+61000',
  },
  {
    name: 'throttle: a reply after the pause and the same-event window is a new event (within SETTLE_MS of reopening: overshot)',
    limits: R30,
    setup: [react(1000, 'throttle')],
    step: react(71_000, 'throttle'),
    want: 'overshot',
    state:
      'tat=+6000 vAt=+131000 vOrigin=+6000 day=+0 dayThrottles=2 factor=0.25 prevFactor=0.5 pauseUntil=+131000 sameEventUntil=+141000 recoverAt=+431000 climbMs=600000 departAt=+131000',
  },
  {
    name: 'throttle: a paused lane waits until the pause ends',
    limits: R30,
    setup: [react(0, 'throttle')],
    step: now(1000, 'a'),
    want: 'wait@+60000:paused',
    state:
      'vAt=+60000 vOrigin=+0 rateKey=30/min day=+0 dayThrottles=1 factor=0.5 pauseUntil=+60000 sameEventUntil=+70000 recoverAt=+360000 climbMs=600000',
  },
  {
    name: 'throttle: a slowed lane is spaced at the lowered pace',
    limits: R30,
    setup: [react(0, 'throttle'), now(60_000, 'a')],
    step: now(61_000, 'b'),
    want: 'wait@+64000:rate',
    state:
      'tat=+2000 vAt=+60000 vOrigin=+0 rateKey=30/min day=+0 dayCount=1 dayThrottles=1 factor=0.5 sameEventUntil=+70000 recoverAt=+360000 climbMs=600000 departAt=+64000 minute=+1 minuteCount=1 leases=a@+660000',
  },
  {
    name: 'recovery: one step per clean interval',
    limits: R30,
    setup: [react(0, 'throttle')],
    step: react(660_000, 'unknown'),
    want: 'counted',
    state:
      'tat=+0 vAt=+660000 vOrigin=+330000 day=+0 dayThrottles=1 factor=0.7 sameEventUntil=+70000 recoverAt=+960000 climbMs=600000 departAt=+60000',
  },
  {
    name: 'connections: caps concurrency at half of what is in force',
    limits: { concurrency: 4 },
    setup: [now(0, 'a'), now(0, 'b'), now(0, 'c'), now(0, 'd')],
    step: react(1000, 'connections'),
    want: 'capped',
    state:
      'day=+0 dayCount=4 connCap=2 connCapUntil=+601000 minute=+0 minuteCount=4 leases=a@+600000,b@+600000,c@+600000,d@+600000',
  },
  {
    name: 'connections: a capped lane waits for concurrency',
    limits: { concurrency: 4 },
    setup: [now(0, 'a'), now(0, 'b'), now(0, 'c'), react(1000, 'connections')],
    step: now(2000, 'e'),
    want: 'wait@+3000:concurrency',
    state:
      'day=+0 dayCount=3 connCap=1 connCapUntil=+601000 minute=+0 minuteCount=3 leases=a@+600000,b@+600000,c@+600000',
  },
  {
    name: "suspend: pauses for the rule's duration",
    limits: R30,
    setup: [],
    step: react(0, 'suspend', 3_600_000),
    want: 'suspended',
    state:
      'tat=+0 vAt=+3600000 vOrigin=+0 day=+0 dayThrottles=1 factor=0.5 pauseUntil=+3600000 sameEventUntil=+3610000 recoverAt=+3900000 climbMs=36000000 departAt=+3600000',
  },
  {
    name: 'blocked: the lane waits for its trial',
    limits: {},
    setup: [react(0, 'blocked')],
    step: now(1000, 'a'),
    want: 'wait@+3600000:blocked',
    state: 'vAt=+0 vOrigin=+0 day=+0 factor=0.05 blockedAt=+0 trialAt=+3600000 epoch=1',
  },
  {
    name: 'blocked: one trial message goes when due',
    limits: {},
    setup: [react(0, 'blocked')],
    step: now(3_600_000, 'a'),
    want: 'granted',
    state:
      'vAt=+0 vOrigin=+0 day=+0 dayCount=1 factor=0.05 blockedAt=+0 trialAt=+7200000 epoch=1 minute=+60 minuteCount=1 leases=a@+4200000',
  },
  {
    name: 'blocked: a delivered trial unblocks',
    limits: {},
    setup: [react(0, 'blocked'), now(3_600_000, 'a')],
    step: { op: 'release', id: 'a', durationMs: 2000, at: 3_602_000 },
    want: 'ok',
    state:
      'vAt=+0 vOrigin=+0 day=+0 dayCount=1 meanDeliveryMs=1200 factor=0.05 recoverAt=+3902000 epoch=1 minute=+60 minuteCount=1 acceptMinute=+60 acceptCount=1 acceptedAt=+3602000',
  },
  {
    name: 'forgive: restores the pace and ends the pause',
    limits: R30,
    setup: [react(0, 'throttle')],
    step: react(1000, 'forgive'),
    want: 'forgiven',
    state: 'tat=+0 vAt=+1000 vOrigin=+0 day=+0 dayThrottles=1 sameEventUntil=+11000 climbMs=600000 departAt=+1000',
  },
  {
    name: 'claim: a booking keeps its place, moved on by the pause and the lower pace',
    limits: R30,
    setup: [now(0, 'a'), reserve(0, 'b'), react(500, 'throttle')],
    step: claim(2000, 'b', 2000, 0),
    want: 'wait@+63500:rate',
    state:
      'tat=+4000 vAt=+60500 vOrigin=+500 rateKey=30/min day=+0 dayCount=2 dayThrottles=1 factor=0.5 pauseUntil=+60500 sameEventUntil=+70500 recoverAt=+360500 climbMs=600000 departAt=+60500 minute=+0 minuteCount=1 leases=a@+600000',
  },
  {
    name: 'claim: a booking from before a block books again',
    limits: R30,
    setup: [now(0, 'a'), reserve(0, 'b'), react(500, 'blocked')],
    step: claim(2000, 'b', 2000, 0),
    want: 'wait@+3600500:blocked',
    state:
      'tat=+4000 vAt=+500 vOrigin=+500 rateKey=30/min day=+0 dayCount=2 factor=0.05 blockedAt=+500 trialAt=+3600500 epoch=1 departAt=+2000 minute=+0 minuteCount=1 leases=a@+600000',
  },
  {
    name: 'throttle: the pace becomes the accepted share of what the provider accepted',
    limits: R30,
    setup: [now(0, 'a'), { op: 'release', id: 'a', at: 500 }, now(2000, 'b'), { op: 'release', id: 'b', at: 2500 }],
    step: react(3000, 'throttle'),
    want: 'slowed',
    state:
      'tat=+4000 vAt=+63000 vOrigin=+3000 rateKey=30/min day=+0 dayCount=2 dayThrottles=1 factor=0.06 pauseUntil=+63000 sameEventUntil=+73000 recoverAt=+363000 known=0.06 climbMs=600000 departAt=+63000 minute=+0 minuteCount=2 acceptMinute=+0 acceptCount=2 acceptedAt=+2500',
  },
  {
    name: 'throttle: a lane refused at its first climb step above its known-good pace overshot, back to that pace; its next climb waits twice as long',
    limits: R30,
    setup: [
      now(0, 'a'),
      { op: 'release', id: 'a', at: 500 },
      now(2000, 'b'),
      { op: 'release', id: 'b', at: 2500 },
      react(3000, 'throttle'),
    ],
    step: react(400_000, 'throttle'),
    want: 'overshot',
    state:
      'tat=+23331 vAt=+460000 vOrigin=+23331 rateKey=30/min day=+0 dayCount=2 dayThrottles=2 factor=0.06 prevFactor=0.063 pauseUntil=+460000 sameEventUntil=+470000 recoverAt=+1660000 known=0.06 climbMs=1200000 departAt=+460000 minute=+0 minuteCount=2 acceptMinute=+0 acceptCount=2 acceptedAt=+2500',
  },
  {
    name: 'suspend: replies of the same burst do not cut the pace again',
    limits: R30,
    setup: [react(0, 'suspend', 3_600_000)],
    step: react(1000, 'suspend', 3_600_000),
    want: 'grouped',
    state:
      'tat=+0 vAt=+3600000 vOrigin=+0 day=+0 dayThrottles=2 factor=0.5 pauseUntil=+3600000 sameEventUntil=+3610000 recoverAt=+3900000 climbMs=36000000 departAt=+3600000',
  },
  {
    name: "forgive: the lane waits out the provider's pause instead of its own",
    limits: R30,
    setup: [react(0, 'throttle', 600_000)],
    step: react(1000, 'forgive', 300_000),
    want: 'forgiven',
    state:
      'tat=+0 vAt=+301000 vOrigin=+0 day=+0 dayThrottles=1 pauseUntil=+301000 sameEventUntil=+11000 climbMs=600000 departAt=+301000',
  },
  {
    name: 'start: a fresh lane begins at its start share of the pace',
    limits: START,
    setup: [],
    step: now(0, 'a'),
    want: 'granted',
    state:
      'tat=+100 vAt=+0 vOrigin=+0 rateKey=600/min day=+0 dayCount=1 factor=0.1 departAt=+1000 minute=+0 minuteCount=1 growAt=+10000 leases=a@+600000',
  },
  {
    name: 'start: enough accepted deliveries in an interval grow the pace',
    limits: START,
    setup: delivered(0, 4),
    step: now(10_000, 'e'),
    want: 'granted',
    state:
      'tat=+1100 vAt=+10000 vOrigin=+1000 rateKey=600/min day=+0 dayCount=5 factor=0.15000000000000002 departAt=+10666.666748046875 minute=+0 minuteCount=5 acceptMinute=+0 acceptCount=4 growAt=+20000 acceptedAt=+3500 leases=e@+610000',
  },
  {
    name: 'start: no growth without evidence (fewer accepted than 0.4 of what the pace allowed)',
    limits: START,
    setup: delivered(0, 3),
    step: now(10_000, 'e'),
    want: 'granted',
    state:
      'tat=+1100 vAt=+0 vOrigin=+0 rateKey=600/min day=+0 dayCount=4 factor=0.1 departAt=+11000 minute=+0 minuteCount=4 acceptMinute=+0 acceptCount=3 growAt=+20000 acceptedAt=+2500 leases=e@+610000',
  },
  {
    name: 'start: the phase ends at the configured pace',
    limits: START_HIGH,
    setup: delivered(0, 2, 2000),
    step: now(10_000, 'e'),
    want: 'granted',
    state:
      'tat=+8000 vAt=+10000 vOrigin=+7000 rateKey=60/min day=+0 dayCount=3 departAt=+11000 minute=+0 minuteCount=3 acceptMinute=+0 acceptCount=2 growAt=ended+10000 acceptedAt=+2500 leases=e@+610000',
  },
  {
    name: 'start: a block ends the start phase (recovery, never growth, after a delivered probe)',
    limits: START,
    setup: [now(0, 'a'), release(500, 'a')],
    step: react(1000, 'blocked'),
    want: 'blocked',
    state:
      'tat=+100 vAt=+1000 vOrigin=+100 rateKey=600/min day=+0 dayCount=1 factor=0.05 prevFactor=0.1 blockedAt=+1000 trialAt=+3601000 epoch=1 departAt=+1000 minute=+0 minuteCount=1 acceptMinute=+0 acceptCount=1 growAt=ended+1000 acceptedAt=+500',
  },
  {
    name: 'throttle: refused more than SETTLE_MS after reopening, at a pace it kept: slowed (counts toward an incident)',
    limits: R30,
    setup: [react(0, 'throttle'), now(400_000, 'a'), release(400_200, 'a')],
    step: react(400_500, 'throttle'),
    want: 'slowed',
    state:
      'tat=+176000 vAt=+460500 vOrigin=+174300 rateKey=30/min day=+0 dayCount=1 dayThrottles=2 factor=0.05 prevFactor=0.6 pauseUntil=+460500 sameEventUntil=+470500 recoverAt=+760500 known=0.05 climbMs=600000 departAt=+460500 minute=+6 minuteCount=1 acceptMinute=+6 acceptCount=1 acceptedAt=+400200',
  },
  {
    name: 'start: a lane refused within SETTLE_MS of the end of its start phase overshot (no incident)',
    limits: START_HIGH,
    setup: [...delivered(0, 2, 2000), now(10_000, 'e'), release(10_500, 'e')],
    step: react(60_000, 'throttle'),
    want: 'overshot',
    state:
      'tat=+57000 vAt=+120000 vOrigin=+57000 rateKey=60/min day=+0 dayCount=3 dayThrottles=1 factor=0.05 pauseUntil=+120000 sameEventUntil=+130000 recoverAt=+420000 known=0.05 climbMs=600000 departAt=+120000 minute=+0 minuteCount=3 acceptMinute=+0 acceptCount=3 growAt=ended+10000 acceptedAt=+10500',
  },
  {
    name: 'start: a throttle overshot, back to the pace before the last growth step, the phase over',
    limits: START,
    setup: [...delivered(0, 4), now(10_000, 'e'), release(10_500, 'e')],
    step: react(11_000, 'throttle', undefined, 10_000),
    want: 'overshot',
    state:
      'tat=+1150 vAt=+71000 vOrigin=+1150 rateKey=600/min day=+0 dayCount=5 dayThrottles=1 factor=0.10000000000000002 prevFactor=0.15000000000000002 pauseUntil=+71000 sameEventUntil=+81000 recoverAt=+371000 known=0.10000000000000002 climbMs=600000 departAt=+71000 minute=+0 minuteCount=5 acceptMinute=+0 acceptCount=5 growAt=ended+11000 acceptedAt=+10500',
  },
  {
    name: 'throttle: a reply to a message sent before the lane reopened is grouped with the last reaction',
    limits: R30,
    setup: [react(1000, 'throttle')],
    step: react(80_000, 'throttle', undefined, 50_000),
    want: 'grouped',
    state:
      'tat=+1000 vAt=+61000 vOrigin=+1000 day=+0 dayThrottles=2 factor=0.5 sameEventUntil=+71000 recoverAt=+361000 climbMs=600000 departAt=+61000',
  },
  {
    name: 'throttle: refused with other deliveries open caps the sessions, keeps the pace',
    limits: { rate: rate('30/min'), concurrency: 4 },
    setup: [now(0, 'a'), now(2000, 'b'), now(4000, 'c')],
    step: react(5000, 'throttle', undefined, 4000),
    want: 'capped',
    state:
      'tat=+6000 rateKey=30/min day=+0 dayCount=3 dayThrottles=1 connCap=3 connCapUntil=+605000 departAt=+6000 minute=+0 minuteCount=3 leases=a@+600000,b@+602000,c@+604000',
  },
  {
    name: 'throttle: refused with fewer open than the provider was accepting at once: the pace, not a session',
    limits: { rate: rate('600/min'), concurrency: 10 },
    setup: [...deliveredIn(0, 30, 1000, 3000), now(30_000, 'x')],
    step: react(30_500, 'throttle', undefined, 30_000),
    want: 'slowed',
    state:
      'tat=+30500 vAt=+90500 vOrigin=+30500 rateKey=600/min day=+0 dayCount=31 dayThrottles=1 meanDeliveryMs=2997.5241199214297 factor=0.05 pauseUntil=+90500 sameEventUntil=+100500 recoverAt=+390500 known=0.05 climbMs=600000 departAt=+90500 minute=+0 minuteCount=31 acceptMinute=+0 acceptCount=30 acceptedAt=+32000 leases=x@+630000',
  },
  {
    name: 'suspend in the start phase: below what the provider accepted, not the pace before the last growth step',
    limits: START_QUARTER,
    setup: [...delivered(0, 5, 2000), ...deliveredIn(10_000, 7, 1400, 500)],
    step: react(19_800, 'suspend', 3_600_000),
    want: 'suspended',
    state:
      'tat=+6175 vAt=+3619800 vOrigin=+6175 rateKey=120/min day=+0 dayCount=12 dayThrottles=1 meanDeliveryMs=604.8575999999999 factor=0.09000000000000001 prevFactor=0.375 pauseUntil=+3619800 sameEventUntil=+3629800 recoverAt=+3919800 known=0.09000000000000001 climbMs=36000000 departAt=+3619800 minute=+0 minuteCount=12 acceptMinute=+0 acceptCount=12 growAt=ended+19800 acceptedAt=+18900',
  },
  {
    name: 'throttle: refused again after reopening, nothing accepted: the pause doubles, tat restarts',
    limits: R30,
    setup: [now(0, 'a'), reserve(0, 'b'), reserve(0, 'c'), release(500, 'a'), react(1000, 'throttle')],
    step: react(75_000, 'throttle', undefined, 65_000),
    want: 'extended',
    state:
      'tat=+1700 vAt=+195000 vOrigin=+1700 rateKey=30/min day=+0 dayCount=3 dayThrottles=2 factor=0.05 pauseUntil=+195000 sameEventUntil=+205000 recoverAt=+495000 known=0.05 climbMs=600000 departAt=+195000 minute=+0 minuteCount=1 acceptMinute=+0 acceptCount=1 acceptedAt=+500 backoffs=1',
  },
  {
    name: "throttle: the second extended pause is half of the doubled one, capped at the rule's duration",
    limits: R30,
    setup: [react(1000, 'throttle'), react(75_000, 'throttle', undefined, 65_000)],
    step: react(215_000, 'throttle', 200_000, 210_000),
    want: 'extended',
    state:
      'tat=+18000 vAt=+315000 vOrigin=+18000 day=+0 dayThrottles=3 factor=0.5 pauseUntil=+315000 sameEventUntil=+325000 recoverAt=+615000 climbMs=600000 departAt=+315000 backoffs=2',
  },
  {
    name: 'throttle: extended pauses 2, 2, 4, 4, 8, 8 × throttlePauseMs (each doubled one in two halves), then half of throttlePauseMaxMs',
    limits: R30,
    setup: [
      react(1000, 'throttle'),
      react(75_000, 'throttle', undefined, 65_000),
      react(200_000, 'throttle', undefined, 196_000),
      react(325_000, 'throttle', undefined, 321_000),
      react(450_000, 'throttle', undefined, 446_000),
      react(695_000, 'throttle', undefined, 691_000),
      react(940_000, 'throttle', undefined, 936_000),
      react(1_425_000, 'throttle', undefined, 1_421_000),
    ],
    step: react(1_910_000, 'throttle', undefined, 1_906_000),
    want: 'extended',
    state:
      'tat=+25500 vAt=+2810000 vOrigin=+25500 day=+0 dayThrottles=9 factor=0.5 pauseUntil=+2810000 sameEventUntil=+2820000 recoverAt=+3110000 climbMs=600000 departAt=+2810000 backoffs=8',
  },
  {
    name: 'throttle: open less than a minute since reopening, the pace is decreased, not the accepted share (within SETTLE_MS of reopening: overshot)',
    limits: R30,
    setup: [react(0, 'throttle'), now(60_000, 'a'), release(60_500, 'a'), now(64_000, 'b'), release(64_500, 'b')],
    step: react(80_000, 'throttle', undefined, 79_000),
    want: 'overshot',
    state:
      'tat=+10000 vAt=+140000 vOrigin=+10000 rateKey=30/min day=+0 dayCount=2 dayThrottles=2 factor=0.25 prevFactor=0.5 pauseUntil=+140000 sameEventUntil=+150000 recoverAt=+440000 climbMs=600000 departAt=+140000 minute=+1 minuteCount=2 acceptMinute=+1 acceptCount=2 acceptedAt=+64500',
  },
  {
    name: 'hits: counted within a sliding window',
    limits: R30,
    setup: [
      { op: 'hit', rule: 'r1', windowMs: 60_000, at: 0 },
      { op: 'hit', rule: 'r1', windowMs: 60_000, at: 1000 },
    ],
    step: { op: 'hit', rule: 'r1', windowMs: 60_000, at: 60_500 },
    want: 'hits 2',
    state: '',
  },
  {
    name: 'provider: one throttled source is no incident',
    limits: R30,
    setup: [],
    step: throttle(0, 0),
    want: 'quiet',
    state: ' | provider throttled=a@+0',
  },
  {
    name: 'provider: most sources throttled is an incident',
    limits: R30,
    setup: [throttle(0, 0)],
    step: throttle(1000, 1),
    want: 'incident a,b until +301000',
    state: ' | provider pauseUntil=+301000 probing=1 probeAt=+301000 declaredAt=+1000 throttled=a@+0,b@+1000',
  },
  {
    name: 'provider: the probe waits for the pause',
    limits: R30,
    setup: INCIDENT,
    step: { op: 'providerProbe', at: 100 },
    want: 'no@+300000',
    state: ' | provider pauseUntil=+300000 probing=1 probeAt=+300000 declaredAt=+0 throttled=a@+0,b@+0',
  },
  {
    name: 'provider: one probe per interval',
    limits: R30,
    setup: [...INCIDENT, { op: 'providerProbe', at: 300_000 }],
    step: { op: 'providerProbe', at: 300_001 },
    want: 'no@+330000',
    state: ' | provider pauseUntil=+300000 probing=1 probeAt=+330000 declaredAt=+0 throttled=a@+0,b@+0',
  },
  {
    name: 'provider: without an incident the probe is free',
    limits: R30,
    setup: [],
    step: { op: 'providerProbe', at: 0 },
    want: 'ok@0',
    state: '',
  },
  {
    name: 'provider: a delivery ends the incident',
    limits: R30,
    setup: INCIDENT,
    step: { op: 'providerDelivered', at: 5000 },
    want: 'ok',
    state: ' | provider declaredAt=+0',
  },
  {
    name: 'warm-up: no record before the first save',
    limits: R30,
    setup: [],
    step: { op: 'warmGet', at: 0 },
    want: 'warm none',
    state: '',
  },
  {
    name: 'warm-up: a save stores the record',
    limits: R30,
    setup: [warmSave(20_000, 1)],
    step: { op: 'warmGet', at: 0 },
    want: 'warm start=20000 step=1 evaluated=20000 badDays=0',
    state: '',
  },
  {
    name: 'warm-up: an older evaluation never overwrites a newer one',
    limits: R30,
    setup: [warmSave(20_001, 2)],
    step: warmSave(20_000, 1),
    want: 'warm start=20000 step=2 evaluated=20001 badDays=0',
    state: '',
  },
  {
    name: 'warm-up: a newer evaluation replaces the record',
    limits: R30,
    setup: [warmSave(20_000, 1)],
    step: warmSave(20_001, 2),
    want: 'warm start=20000 step=2 evaluated=20001 badDays=0',
    state: '',
  },
  {
    name: 'warm-up: a source keeps the start day first stored',
    limits: R30,
    setup: [{ op: 'sourceStart', today: 20_000, at: 0 }],
    step: { op: 'sourceStart', today: 20_005, at: 0 },
    want: 'start 20000',
    state: '',
  },
  // operator controls (lib/core/control.ts)
  {
    name: 'warm-up: a frozen record keeps its mark',
    limits: R30,
    setup: [],
    step: { op: 'warmPut', record: { start: 20_000, step: 2, evaluated: 20_001, badDays: 0, frozen: 1 }, at: 0 },
    want: 'warm start=20000 step=2 evaluated=20001 badDays=0 frozen',
    state: '',
  },
  {
    name: 'warm-up: a thawed record loses it',
    limits: R30,
    setup: [{ op: 'warmPut', record: { start: 20_000, step: 2, evaluated: 20_001, badDays: 0, frozen: 1 }, at: 0 }],
    step: { op: 'warmPut', record: { start: 20_000, step: 2, evaluated: 20_001, badDays: 0 }, at: 0 },
    want: 'warm start=20000 step=2 evaluated=20001 badDays=0',
    state: '',
  },
  {
    name: 'warm-up: an operator’s record replaces a newer one',
    limits: R30,
    setup: [warmSave(20_005, 4)],
    step: { op: 'warmPut', record: { start: 20_005, step: 1, evaluated: 20_005, badDays: 0 }, at: 0 },
    want: 'warm start=20005 step=1 evaluated=20005 badDays=0',
    state: '',
  },
  {
    name: 'lift: a suspended lane reopens now',
    limits: R30,
    setup: [now(0, 'a'), react(500, 'suspend')],
    step: lift(1000),
    want: 'changed',
    state:
      'tat=+2000 vAt=+1000 vOrigin=+500 rateKey=30/min day=+0 dayCount=1 dayThrottles=1 factor=0.5 recoverAt=+7500500 climbMs=72000000 departAt=+1000 minute=+0 minuteCount=1 leases=a@+600000',
  },
  {
    name: 'lift: a blocked lane is unblocked',
    limits: R30,
    setup: [now(0, 'a'), react(500, 'blocked')],
    step: lift(1000),
    want: 'changed',
    state:
      'tat=+2000 vAt=+500 vOrigin=+500 rateKey=30/min day=+0 dayCount=1 factor=0.05 epoch=1 departAt=+2000 minute=+0 minuteCount=1 leases=a@+600000',
  },
  {
    name: 'lift: a connection cap ends (the rate keeps its spacing)',
    limits: R30,
    setup: [now(0, 'a'), react(500, 'throttle', undefined, 0)],
    step: lift(1000),
    want: 'changed',
    state:
      'tat=+2000 rateKey=30/min day=+0 dayCount=1 dayThrottles=1 departAt=+2000 minute=+0 minuteCount=1 leases=a@+600000',
  },
  {
    name: 'lift: a lane without state stays without',
    limits: R30,
    setup: [],
    step: lift(1000),
    want: 'unchanged',
    state: '',
  },
  {
    name: 'reset: a slowed lane is back at its configured pace (its pause stays: lift ends it)',
    limits: R30,
    setup: [now(0, 'a'), react(500, 'throttle')],
    step: { op: 'laneControl', control: 'reset', at: 1000 },
    want: 'changed',
    state:
      'tat=+2000 vAt=+60500 vOrigin=+500 rateKey=30/min day=+0 dayCount=1 dayThrottles=1 pauseUntil=+60500 sameEventUntil=+70500 departAt=+60500 minute=+0 minuteCount=1 growAt=ended+1000 leases=a@+600000',
  },
  {
    name: 'lift: a provider-wide incident ends',
    limits: R30,
    setup: INCIDENT,
    step: { op: 'providerLift', at: 1000 },
    want: 'changed',
    state: ' | provider declaredAt=+0',
  },
  {
    name: 'pause: a provider for 60 s, listed while in force',
    limits: R30,
    setup: [pause(0, 'provider', 60_000)],
    step: { op: 'controls', at: 59_999 },
    want: 'pause provider p at +0 until +60000 by op (test)',
    state: '',
  },
  {
    name: 'pause: an ended pause is gone',
    limits: R30,
    setup: [pause(0, 'provider', 60_000), pause(0, 'source', 0)],
    step: { op: 'controls', at: 60_000 },
    want: 'pause source a at +0 until 0 by op (test)',
    state: '',
  },
  {
    name: 'pause: a new pause of the same target replaces it',
    limits: R30,
    setup: [pause(0, 'lane', 60_000), pause(1000, 'lane', 0)],
    step: { op: 'controls', at: 70_000 },
    want: 'pause lane a/p at +1000 until 0 by op (test)',
    state: '',
  },
  {
    name: 'resume: ends the pause and returns it',
    limits: R30,
    setup: [pause(0, 'source', 0), pause(0, 'provider', 0)],
    step: { op: 'resume', target: 'source', at: 1000 },
    want: 'pause source a at +0 until 0 by op (test)',
    state: '',
  },
  {
    name: 'resume: the other target stays paused',
    limits: R30,
    setup: [pause(0, 'source', 0), pause(0, 'provider', 0), { op: 'resume', target: 'source', at: 1000 }],
    step: { op: 'controls', at: 2000 },
    want: 'pause provider p at +0 until 0 by op (test)',
    state: '',
  },
  {
    name: 'resume: nothing to resume',
    limits: R30,
    setup: [pause(0, 'source', 5000)],
    step: { op: 'resume', target: 'source', at: 5000 },
    want: 'none',
    state: '',
  },
];

/** The two lanes of every case: sources a and b at provider p (stores isolate cases by prefix or instance). */
export const CASE_LANES = [
  { source: 'a', provider: 'p' },
  { source: 'b', provider: 'p' },
] as const;

/**
 * Runs every case on a fresh store from `makeStore(i)` (whose clock reads
 * what `setNow` last set) and checks result and state. Returns each case's
 * full transcript, so two stores can also be compared with each other.
 */
export async function runTable(
  t: Test,
  makeStore: (i: number) => Promise<Target['store']>,
  setNow: (t: number) => void,
): Promise<string[]> {
  const transcripts: string[] = [];
  for (const [i, c] of CASES.entries()) {
    const target: Target = { store: await makeStore(i), lanes: CASE_LANES, limits: c.limits };
    const setup: string[] = [];
    for (const step of c.setup) setup.push(await execute(target, step, setNow));
    const got = await execute(target, c.step, setNow);
    const state = await summary(target, c.step.at, setNow);
    // as objects: a failing row shows the fields that differ
    t.same({ result: got, state: summaryFields(state) }, { result: c.want, state: summaryFields(c.state) }, c.name);
    transcripts.push(`${c.name}: ${setup.join('; ')} => ${got} :: ${state}`);
  }
  return transcripts;
}
