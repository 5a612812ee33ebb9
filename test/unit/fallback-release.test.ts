/**
 * The boot-time release of a node's earlier leases through the fallback store
 * (lib/store/fallback.ts): housekeeping that retries a slow first answer and
 * never takes the shared store down. The shared store is a memory store that
 * fails a given number of releaseStale calls (a real Redis cannot be made to
 * time out on cue; test/e2e/restart.redis.test.ts releases through one).
 */
import t from 'tap';
import { FallbackStore, RELEASE_TRIES } from '../../lib/store/fallback';
import { MemoryStore } from '../../lib/store/memory';
import type { PacingStore } from '../../lib/store/types';
import { parseRate, type Rate } from '../../lib/core/rate';

const lane = { source: 's1', provider: 'microsoft365' };
const limits = { rate: parseRate('60/min') as Rate, concurrency: 10 };

/** A primary whose first `failing` releaseStale calls fail as a timed-out command does. */
async function primaryFailing(failing: number): Promise<{ store: PacingStore; calls: () => number }> {
  const inner = new MemoryStore(Date.now);
  // a lease of the node's earlier boot, on the shared store
  await inner.acquire(lane, limits, { mode: 'now', leaseId: 'node1~boot0~1', leaseMs: 600_000 });
  let calls = 0;
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (name !== 'releaseStale' || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls += 1;
        if (calls <= failing) return Promise.reject(new Error('Command timed out'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls: () => calls };
}

function fallback(primary: PacingStore, logs: string[]): FallbackStore {
  return new FallbackStore(primary, {
    policy: 'local',
    clusterSize: 1,
    retryMs: 2000,
    delayMs: 30_000,
    log: (_level, text) => logs.push(text),
  });
}

t.test('a release that times out at boot is tried again; the store is not taken for down', async (t) => {
  const { store, calls } = await primaryFailing(RELEASE_TRIES - 1);
  const logs: string[] = [];
  const fb = fallback(store, logs);
  const released = await fb.releaseStale('node1~', 'node1~boot1~');
  t.equal(calls(), RELEASE_TRIES, `${RELEASE_TRIES - 1} timeouts, then an answer`);
  t.equal(released, 1, "the earlier boot's lease is released on the shared store");
  t.equal(fb.errors, 0, 'no store error counted');
  t.notOk(fb.degraded, 'still on the shared store');
  t.same(logs, [], 'nothing logged as a store failure');
});

t.test('a release that keeps failing throws after its tries, and still leaves the store up', async (t) => {
  const { store, calls } = await primaryFailing(Infinity);
  const logs: string[] = [];
  const fb = fallback(store, logs);
  await t.rejects(fb.releaseStale('node1~', 'node1~boot1~'), /Command timed out/, 'the caller gets the error to log');
  t.equal(calls(), RELEASE_TRIES, `tried ${RELEASE_TRIES} times`);
  t.equal(fb.errors, 0, 'no store error counted');
  t.notOk(fb.degraded, 'the decisions, not the housekeeping, find out whether the store is away');
});
