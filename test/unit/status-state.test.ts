import t from 'tap';
import { DAY_MS } from '../../lib/core/day';
import { emptyLane, type LaneLimits } from '../../lib/core/lane';
import { parseStateKind, stateDetail } from '../../lib/engine/status-state';

const NOW = 20_400 * DAY_MS + 12 * 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const limits: LaneLimits = { perDay: 10, concurrency: 4 };

t.test('each state: its kind, every kind that applies, and when the most severe ends', async (t) => {
  const cases: Array<[string, Partial<ReturnType<typeof emptyLane>>, object]> = [
    ['nothing holds the lane', {}, { kind: 'ok', kinds: ['ok'], until: null, pausedUntil: null, blockedAt: null }],
    ['paused by a throttle reply', { pauseUntil: NOW + 90_000 }, { kind: 'paused', kinds: ['paused'], until: iso(NOW + 90_000), pausedUntil: iso(NOW + 90_000) }],
    ['a pause that has ended', { pauseUntil: NOW - 1 }, { kind: 'ok', pausedUntil: null }],
    ['blocked: ends at the next probe', { blockedAt: NOW - 5_000, probeAt: NOW + 600_000 }, { kind: 'blocked', until: iso(NOW + 600_000), blockedAt: iso(NOW - 5_000) }],
    ['daily volume used: ends at midnight', { day: 20_400, dayCount: 10 }, { kind: 'capped', until: iso(20_401 * DAY_MS) }],
    ['connections capped', { connCap: 2, connCapUntil: NOW + 30_000 }, { kind: 'connections', connectionsCap: 2, connectionsCapUntil: iso(NOW + 30_000) }],
    ['slowed: no set end', { factor: 0.5 }, { kind: 'slowed', until: null, factor: 0.5 }],
    ['paused and slowed: paused first', { pauseUntil: NOW + 1_000, factor: 0.5 }, { kind: 'paused', kinds: ['paused', 'slowed'] }],
  ];
  for (const [name, change, want] of cases) t.match(stateDetail({ ...emptyLane(), ...change }, limits, NOW), want, name);
});

t.test('--state takes the known kinds and names them when given another', async (t) => {
  t.same(parseStateKind('paused'), { kind: 'paused' });
  t.match(parseStateKind('pausd'), /--state needs one of blocked, paused, capped, connections, slowed, ok \(got "pausd"\)/);
  t.match(parseStateKind(undefined), /got ""/);
});
