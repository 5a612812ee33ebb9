/**
 * The provider and source sections of `paceline status`
 * (lib/engine/status-providers.ts, status-sources.ts): pure row builders,
 * table-driven, with a fixed clock.
 */
import t from 'tap';
import { buildConfig } from '../../lib/config/load';
import { DAY_MS, dayNumber } from '../../lib/core/day';
import { emptyLane } from '../../lib/core/lane-state';
import { emptyProvider, DEFAULT_INCIDENT, type ProviderState } from '../../lib/core/provider-state';
import { makeControl } from '../../lib/core/control';
import { startRecord } from '../../lib/core/warmup';
import { TALLY_BUCKET_MS } from '../../lib/core/tally';
import { statusRows } from '../../lib/engine/status-rows';
import {
  incidentOf,
  providerKinds,
  providerNames,
  providerRows,
  providerTable,
} from '../../lib/engine/status-providers';
import { sourceRows, sourceTable } from '../../lib/engine/status-sources';

const yaml = {
  sources: {
    a: { address: '127.0.0.2' },
    b: { address: '127.0.0.3', helo: 'b.paceline.test' },
    warm: { address: '127.0.0.4', warmup: 'ramp' },
  },
  pools: { default: { sources: ['a', 'warm'] }, bulk: { sources: ['b', 'a'] } },
  providers: { partner: { mx: ['mx.partner.test'] } },
  defaults: { limits: { concurrency: 2, rate: '10/s' } },
};
const config = buildConfig({ adapt: { start: '1' } }, yaml, {
  schedules: { ramp: { days: [40, 80], progression: 'calendar' } },
});
const NOW = 20_400 * DAY_MS + 12 * 3_600_000;
const day = dayNumber(NOW, 0);
const bucket = Math.floor(NOW / TALLY_BUCKET_MS);
/** Tally fields: `n` attempts today (earlier today, outside the last hour), `h` of them in the last hour. */
function tally(n: number, throttles: number, h: number, hThrottles: number): Record<string, number> {
  return {
    [`d${day}:attempts`]: n,
    [`d${day}:delivered`]: n - throttles,
    [`d${day}:throttles`]: throttles,
    [`d${day}:deferred:throttle`]: throttles,
    [`m${bucket}:attempts`]: h,
    [`m${bucket}:delivered`]: h - hThrottles,
    [`m${bucket}:throttles`]: hThrottles,
  };
}
const paused = { ...emptyLane(), pauseUntil: NOW + 60_000 };
const rows = statusRows(
  config,
  [
    { lane: { source: 'a', provider: 'google' }, state: paused },
    { lane: { source: 'b', provider: 'google' }, state: emptyLane() },
    { lane: { source: 'a', provider: 'partner' }, state: emptyLane() },
    { lane: { source: 'warm', provider: 'partner' }, state: { ...emptyLane(), day, dayCount: 7 } },
  ],
  NOW,
  new Map([['warm|partner', { ...startRecord(day - 1, day), frozen: 1 as const }]]),
  new Map([
    ['a|google', tally(30, 6, 10, 4)],
    ['b|google', tally(10, 0, 10, 1)],
    ['a|partner', tally(5, 0, 0, 0)],
  ]),
);
const incident: ProviderState = {
  ...emptyProvider(),
  throttled: { a: NOW - 20_000, b: NOW - 10_000 },
  declaredAt: NOW - 10_000,
  pauseUntil: NOW + 290_000,
  probing: 1,
  probeAt: NOW + 290_000,
};
const iso = (ms: number) => new Date(ms).toISOString();

t.test('a provider in an incident: since, until, the sources and why; its lanes counted by kind', async (t) => {
  const [google] = providerRows(['google'], rows, new Map([['google', incident]]), [], [], NOW, DEFAULT_INCIDENT);
  t.match(google, {
    provider: 'google',
    state: 'incident',
    incident: {
      since: iso(NOW - 10_000),
      until: iso(NOW + 290_000),
      probing: false,
      nextProbeAt: null,
      sources: ['a', 'b'],
      reason: 'throttle replies on 2 sources within 5m (a, b)',
    },
    pause: null,
    lanes: 2,
    lanesByKind: { blocked: 0, paused: 1, capped: 0, connections: 0, slowed: 0, ok: 1 },
    // today: 40 attempts, 6 throttles; the last hour: 20 attempts, 5 throttles
    today: { attempts: 40, delivered: 34, throttles: 6, throttlesPer100: 15 },
    lastHour: { attempts: 20, delivered: 15, throttles: 5, throttlesPer100: 25 },
  });
  t.match(google?.stateText, /^incident since \S+ until \S+: throttle replies on 2 sources within 5m \(a, b\)$/);
  t.same(providerKinds(google!), ['paused', 'ok'], '--state paused and --state ok both keep it');
});

t.test('after the pause the provider is probed until a delivery; ok once it has none', async (t) => {
  const probing = { ...incident, pauseUntil: NOW - 1000, probeAt: NOW + 20_000 };
  t.match(incidentOf(probing, NOW, DEFAULT_INCIDENT), { probing: true, nextProbeAt: iso(NOW + 20_000) });
  const [row] = providerRows(['google'], rows, new Map([['google', probing]]), [], [], NOW, DEFAULT_INCIDENT);
  t.equal(row?.state, 'probing');
  t.match(row?.stateText, /^probing one message at a time after an incident .*, next /);
  t.equal(incidentOf(emptyProvider(), NOW, DEFAULT_INCIDENT), null, 'no incident');
  t.equal(incidentOf(undefined, NOW, DEFAULT_INCIDENT), null, 'no state at all');
  const [ok] = providerRows(['partner'], rows, new Map(), [], [], NOW, DEFAULT_INCIDENT);
  t.match(ok, { state: 'ok', stateText: 'ok', incident: null, lanes: 2 });
  t.equal(ok?.lastHour.throttlesPer100, null, 'no attempts in the last hour: no ratio');
  t.equal(ok?.today.throttlesPer100, 0);
});

t.test("an operator's pause of a provider: who, why, until when; the waiting messages summed", async (t) => {
  const pause = makeControl(
    { target: { kind: 'provider', provider: 'partner' }, forMs: 600_000, reason: 'maintenance', who: 'ann' },
    NOW - 1000,
  );
  const laneOnly = makeControl(
    { target: { kind: 'lane', source: 'a', provider: 'google' }, forMs: 0, reason: '', who: 'bob' },
    NOW,
  );
  const waiting = [
    { source: 'a', provider: 'partner', count: 2, oldestQueuedAt: NOW - 5000 },
    { source: null, provider: 'partner', count: 3, oldestQueuedAt: NOW - 9000 },
    { source: 'a', provider: 'google', count: 4, oldestQueuedAt: NOW - 9000 },
  ];
  const names = providerNames(rows, new Map(), [pause, laneOnly]);
  t.same(names, ['google', 'partner']);
  t.same(providerNames([], new Map([['yahoo', incident]]), [pause]), ['partner', 'yahoo'], 'paused and in incident');
  const [partner] = providerRows(['partner'], rows, new Map(), [pause, laneOnly], waiting, NOW, DEFAULT_INCIDENT);
  t.match(partner, {
    state: 'paused',
    pause: {
      who: 'ann',
      reason: 'maintenance',
      since: iso(NOW - 1000),
      until: iso(NOW + 599_000),
      what: 'provider partner',
    },
    waiting: 5,
  });
  t.equal(partner?.stateText, `paused by ann until ${iso(NOW + 599_000)} (maintenance)`);
  const ended = makeControl({ ...pause, target: pause.target, forMs: 1000, reason: '', who: 'ann' }, NOW - 5000);
  const [after] = providerRows(['partner'], rows, new Map(), [ended], [], NOW, DEFAULT_INCIDENT);
  t.equal(after?.state, 'ok', 'an ended pause holds nothing back');
  const table = providerTable([partner!]);
  t.match(table[0], /^provider\s+lanes\s+thr\/100 today\s+thr\/100 h\s+waiting\s+state$/);
  t.match(table[1], /^partner\s+2 ok\s+0\s+-\s+5\s+paused by ann until/);
  t.same(providerTable([]), [], 'no providers, no table');
});

t.test('sources: address, pools, up or down across processes, warm-up per provider, pause', async (t) => {
  const troubles = [
    {
      source: 'b',
      failures: 1,
      state: 'failing' as const,
      since: NOW - 3000,
      until: 0,
      reason: 'connect ECONNREFUSED',
      pid: 11,
      node: 'mx1',
    },
    {
      source: 'b',
      failures: 3,
      state: 'down' as const,
      since: NOW - 9000,
      until: NOW + 50_000,
      reason: 'cannot bind 127.0.0.3 (EADDRNOTAVAIL)',
      pid: 12,
      node: 'mx2',
    },
  ];
  const pause = makeControl({ target: { kind: 'source', source: 'a' }, forMs: 0, reason: 'rDNS', who: 'ann' }, NOW);
  const got = sourceRows(config, ['a', 'b', 'warm'], rows, troubles, [pause], NOW);
  t.match(got[0], {
    source: 'a',
    address: '127.0.0.2',
    helo: null,
    pools: ['default', 'bulk'],
    state: 'up',
    reason: null,
    processes: [],
    warmup: null,
    pause: { who: 'ann', reason: 'rDNS', until: null },
    lanes: 2,
  });
  t.match(got[1], {
    source: 'b',
    helo: 'b.paceline.test',
    pools: ['bulk'],
    state: 'down',
    reason: 'cannot bind 127.0.0.3 (EADDRNOTAVAIL)',
    since: iso(NOW - 9000),
    until: iso(NOW + 50_000),
    failures: 3,
    processes: [
      { node: 'mx1', pid: 11, state: 'failing' },
      { node: 'mx2', pid: 12, state: 'down' },
    ],
    pause: null,
  });
  t.same(got[2]?.warmup, {
    schedule: 'ramp',
    progression: 'calendar',
    lanes: [{ provider: 'partner', day: 2, cap: 80, used: 7, frozen: true }],
  });
  t.equal(got[2]?.sentToday, 7);
  const table = sourceTable(got, NOW);
  t.match(table[0], /^source\s+address\s+pools\s+today\s+warm-up\s+state$/);
  t.match(table[1], /^a\s+127\.0\.0\.2\s+default,bulk\s+0\s+-\s+up; paused by ann until resumed \(rDNS\)$/);
  t.match(table[2], /down since \S+ until \S+ \(50s\): cannot bind 127\.0\.0\.3 \(EADDRNOTAVAIL\)$/);
  t.match(table[3], /ramp \(calendar\) partner day 2 cap 80 used 7 frozen\s+up$/);
});
