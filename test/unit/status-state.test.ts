import t from 'tap';
import { DAY_MS } from '../../lib/core/day';
import { emptyLane, type LaneLimits } from '../../lib/core/lane-state';
import { parseStateKind, stateDetail } from '../../lib/engine/status-state';
import { tallyNames, type Attempt } from '../../lib/engine/outcomes';
import { outcomeCounts } from '../../lib/engine/status-counts';
import type { Category } from '../../lib/core/classify';

const NOW = 20_400 * DAY_MS + 12 * 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const limits: LaneLimits = { perDay: 10, concurrency: 4 };

t.test('each state: its kind, every kind that applies, and when the most severe ends', async (t) => {
  const cases: Array<[string, Partial<ReturnType<typeof emptyLane>>, object]> = [
    ['nothing holds the lane', {}, { kind: 'ok', kinds: ['ok'], until: null, pausedUntil: null, blockedAt: null }],
    [
      'paused by a throttle reply',
      { pauseUntil: NOW + 90_000 },
      { kind: 'paused', kinds: ['paused'], until: iso(NOW + 90_000), pausedUntil: iso(NOW + 90_000) },
    ],
    ['a pause that has ended', { pauseUntil: NOW - 1 }, { kind: 'ok', pausedUntil: null }],
    [
      'blocked: ends at the next trial',
      { blockedAt: NOW - 5_000, trialAt: NOW + 600_000 },
      { kind: 'blocked', until: iso(NOW + 600_000), blockedAt: iso(NOW - 5_000) },
    ],
    [
      'daily volume used: ends at midnight',
      { day: 20_400, dayCount: 10 },
      { kind: 'capped', until: iso(20_401 * DAY_MS) },
    ],
    [
      'connections capped',
      { connCap: 2, connCapUntil: NOW + 30_000 },
      { kind: 'connections', connectionsCap: 2, connectionsCapUntil: iso(NOW + 30_000) },
    ],
    ['slowed: no set end', { factor: 0.5 }, { kind: 'slowed', until: null, factor: 0.5 }],
    [
      'paused and slowed: paused first',
      { pauseUntil: NOW + 1_000, factor: 0.5 },
      { kind: 'paused', kinds: ['paused', 'slowed'] },
    ],
  ];
  for (const [name, change, want] of cases)
    t.match(stateDetail({ ...emptyLane(), ...change }, limits, NOW), want, name);
});

t.test('the reason of the last reaction is shown while something holds the lane back', async (t) => {
  const why = {
    at: NOW - 1000,
    effect: 'slowed',
    category: 'throttle',
    rule: 'ms-busy',
    reply: '451 4.7.500 Server busy',
  };
  t.match(stateDetail({ ...emptyLane(), pauseUntil: NOW + 60_000, factor: 0.5 }, limits, NOW, why), {
    kind: 'paused',
    reason: 'slowed after a throttle reply (rule ms-busy)',
    rule: 'ms-busy',
    category: 'throttle',
    reply: '451 4.7.500 Server busy',
    reactedAt: iso(NOW - 1000),
  });
  t.match(
    stateDetail(emptyLane(), limits, NOW, why),
    { kind: 'ok', reason: null, rule: null, reply: null, reactedAt: null },
    'an ok lane shows no old reason',
  );
});

t.test('--state takes the known kinds and names them when given another', async (t) => {
  t.same(parseStateKind('paused'), { kind: 'paused' });
  t.match(
    parseStateKind('pausd'),
    /--state needs one of blocked, paused, capped, connections, slowed, ok \(got "pausd"\)/,
  );
  t.match(parseStateKind(undefined), /got ""/);
});

t.test('the counter names of an attempt', async (t) => {
  const cases: Array<[string, Attempt, Category | undefined, string[]]> = [
    ['delivered', { delivered: true }, undefined, ['attempts', 'delivered']],
    [
      'deferred by a throttle reply',
      { delivered: false, reply: '451 4.7.500 busy' },
      'throttle',
      ['attempts', 'deferred:throttle', 'throttles'],
    ],
    ['deferred without a reply', { delivered: false }, undefined, ['attempts', 'deferred:none']],
    ['no MX host reached', { delivered: false, unreached: true }, undefined, ['attempts', 'deferred:unreached']],
    [
      'bounced by the remote side',
      { delivered: false, bounced: true, reply: '550 5.1.1 no' },
      'recipient',
      ['attempts', 'bounced'],
    ],
    [
      'bounced after a throttle reply',
      { delivered: false, bounced: true, reply: '451 4.7.500' },
      'throttle',
      ['attempts', 'bounced', 'throttles'],
    ],
    ['expired unsent by paceline: not an attempt', { delivered: false, expired: true }, undefined, ['bounced']],
  ];
  for (const [name, attempt, category, want] of cases) t.same(tallyNames(attempt, category), want, name);
});

t.test('throttles per 100 attempts, one decimal; null without attempts', async (t) => {
  const fields = (day: number, counts: Record<string, number>) =>
    Object.fromEntries(Object.entries(counts).map(([k, v]) => [`d${day}:${k}`, v]));
  const day = Math.floor(NOW / DAY_MS);
  t.match(outcomeCounts(fields(day, { attempts: 3, throttles: 1, 'deferred:throttle': 1 }), NOW, 0).today, {
    throttlesPer100: 33.3,
    deferred: { throttle: 1 },
  });
  t.equal(outcomeCounts({}, NOW, 0).today.throttlesPer100, null);
  t.equal(
    outcomeCounts(fields(day - 1, { attempts: 3 }), NOW, 0).today.attempts,
    0,
    "yesterday's counts are not today's",
  );
});
