import t from 'tap';
import { emptyLane, type LaneLimits, type LaneState } from '../../lib/core/lane-state';
import { rank, remainingShare } from '../../lib/core/rank';
import { rate } from '../store/steps';

const NOW = 1_800_000_000_000;
const L: LaneLimits = { rate: rate('60/min'), perDay: 100 };
const day = Math.floor(NOW / 86_400_000);
type C = { name: string; state: LaneState; warming?: boolean };
const order = (cs: C[], turn = 0) =>
  rank(cs, (c) => ({ state: c.state, limits: L, warming: c.warming ?? false }), NOW, turn).map((r) => r.c.name);

t.test('soonest free first, then warming, then the most volume left, headroom, least busy, round robin', async (t) => {
  const free = emptyLane();
  const later: LaneState = { ...emptyLane(), tat: NOW + 5000 };
  t.same(
    order([
      { name: 'later', state: later },
      { name: 'free', state: free },
    ]),
    ['free', 'later'],
    'soonest free first',
  );
  t.same(
    order([
      { name: 'a', state: free },
      { name: 'w', state: free, warming: true },
    ]),
    ['w', 'a'],
    'a warming source among equals',
  );
  const used: LaneState = { ...emptyLane(), day, dayCount: 60 };
  t.equal(remainingShare(used, L, NOW), 0.4);
  t.same(
    order([
      { name: 'used', state: used },
      { name: 'fresh', state: { ...emptyLane(), day, dayCount: 10 } },
    ]),
    ['fresh', 'used'],
    'the most of its day left',
  );
  const busy: LaneState = { ...emptyLane(), leases: [{ id: 'x', expiresAt: NOW + 60_000 }] };
  t.same(
    order([
      { name: 'busy', state: busy },
      { name: 'idle', state: free },
    ]),
    ['idle', 'busy'],
    'the least busy',
  );
  t.same(
    order(
      [
        { name: 'a', state: free },
        { name: 'b', state: free },
      ],
      0,
    ),
    ['a', 'b'],
    'round robin from the turn',
  );
  t.same(
    order(
      [
        { name: 'a', state: free },
        { name: 'b', state: free },
      ],
      1,
    ),
    ['b', 'a'],
  );
});
