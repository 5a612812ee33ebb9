/**
 * One set of cases run on the memory store and on a real Redis (a
 * redis-server started here, stopped at teardown), each store made fresh per
 * case on a clock the cases set; the transcripts are compared by the caller.
 * Shared by the conformance, tally and history tests.
 */
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { Test } from 'tap';
import { MemoryStore } from '../../lib/store/memory';
import { RedisStore } from '../../lib/store/redis';
import type { PacingStore } from '../../lib/store/types';
import { startRedis } from '../helpers/redis';

/** Runs the cases on the store `make(i)` gives for case i, setting the stores' clock with `setNow`. */
export type Cases = (t: Test, make: (i: number) => PacingStore, setNow: (ms: number) => void) => Promise<string[]>;

/** The two transcripts, and what the caller needs for checks of its own after them. */
export interface BothStores {
  readonly memory: string[];
  readonly redis: string[];
  /** A client on that Redis (closed at teardown). */
  readonly client: Redis;
  /** This run's key prefix for `name` (case i's Redis store uses `<tag><i>`). */
  prefix(name: string): string;
  /** The clock every store made here reads, and how the caller sets it. */
  readonly clock: () => number;
  setNow(ms: number): void;
}

/** `cases` on both stores, as the subtests "memory store" and "Redis store"; `tag` names this test's keys. */
export async function onBothStores(t: Test, tag: string, cases: Cases): Promise<BothStores> {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const client = new Redis(server.port, server.host, { enableAutoPipelining: true });
  t.teardown(() => client.quit());
  let now = 0;
  const clock = () => now;
  const setNow = (v: number) => (now = v);
  const run = randomUUID().slice(0, 8);
  const prefix = (name: string) => `test:${run}:${name}:`;
  let memory: string[] = [];
  let redis: string[] = [];
  await t.test('memory store', async (t) => {
    memory = await cases(t, () => new MemoryStore(clock), setNow);
  });
  await t.test('Redis store', async (t) => {
    redis = await cases(
      t,
      (i) => new RedisStore(client, { prefix: prefix(`${tag}${i}`), clockOverride: clock }),
      setNow,
    );
  });
  return { memory, redis, client, prefix, clock, setNow };
}
