/** lib/store/fallback.ts shareOf(): a node's share of a lane's limits during an outage of the shared store. */
import t from 'tap';
import { shareOf } from '../../lib/store/fallback';
import { DEFAULT_POLICY, emptyLane } from '../../lib/core/lane-state';
import { normalize } from '../../lib/core/lane';
import { parseRate, type Rate } from '../../lib/core/rate';

t.test('a node takes its share of every limit, and its local lanes start at that pace (no start phase)', async (t) => {
  const policy = { ...DEFAULT_POLICY, start: 0.1 };
  const limits = { rate: parseRate('300/min,burst=10') as Rate, concurrency: 10, perDay: 1000, policy };
  const half = shareOf(limits, 2);
  t.equal(half.rate?.count, 150);
  t.equal(half.rate?.burst, 5);
  t.equal(half.concurrency, 5);
  t.equal(half.perDay, 500);
  t.equal(half.policy?.start, 1, 'no start phase in the fallback');
  t.equal(
    normalize(emptyLane(), half, Date.UTC(2026, 0, 1)).factor,
    1,
    'a fresh local lane paces at its share from the first second',
  );
  t.equal(shareOf(limits, 1).policy?.start, 1, 'a single node too');
  t.equal(limits.policy.start, 0.1, 'the configured limits are left alone');
});
