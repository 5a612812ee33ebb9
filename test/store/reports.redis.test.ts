/**
 * Process reports for `paceline status` (PacingStore.report/reports,
 * lib/store/lua/report-1.lua, lib/store/reports.ts) on the memory store and
 * a real redis-server: the same reports counted at the same times, one per
 * process id, gone after their TTL; the Redis key expires with it.
 */

import t from 'tap';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { MemoryStore } from '../../lib/store/memory';
import { RedisStore } from '../../lib/store/redis';
import { readReports, reportId, startReports } from '../../lib/store/reports';
import { SourceHealth } from '../../lib/core/source-health';
import { WaitingMessages } from '../../lib/core/waiting';
import type { PacingStore } from '../../lib/store/types';
import { startRedis } from '../helpers/redis';

const T0 = 1_760_000_000_000;

/** One sequence of reports and reads; returns what each read saw. */
async function sequence(store: PacingStore, setNow: (ms: number) => void): Promise<unknown[]> {
  const seen: unknown[] = [];
  const read = async () => (await store.reports()).value.map((r) => `${r.id}=${r.text}@${r.until - T0}`);
  setNow(T0);
  await store.report('a#1', '{"n":1}', 1000);
  await store.report('b#2', '{"n":2}', 5000);
  setNow(T0 + 500);
  seen.push(await read());
  setNow(T0 + 1000);
  seen.push(await read());
  await store.report('a#1', '{"n":3}', 1000);
  setNow(T0 + 1500);
  seen.push(await read());
  setNow(T0 + 6000);
  seen.push(await read());
  return seen;
}

const WANT = [
  ['a#1={"n":1}@1000', 'b#2={"n":2}@5000'],
  ['b#2={"n":2}@5000'],
  ['a#1={"n":3}@2000', 'b#2={"n":2}@5000'],
  [],
];

t.test('memory and Redis stores keep process reports alike', async (t) => {
  const server = await startRedis();
  t.teardown(() => server.stop());
  const client = new Redis(server.port, server.host, { enableAutoPipelining: true });
  t.teardown(() => client.quit());
  const run = randomUUID().slice(0, 8);
  let now = 0;
  const setNow = (v: number) => (now = v);
  const memory = await sequence(new MemoryStore(() => now), setNow);
  t.same(memory, WANT, 'memory: counted until the TTL, replaced by id, then gone');
  const redis = await sequence(new RedisStore(client, { prefix: `rep:${run}:`, clockOverride: () => now }), setNow);
  t.same(redis, memory, 'Redis: the same');

  // on Redis's own clock the key itself expires with the report
  const live = new RedisStore(client, { prefix: `rep:${run}:live:` });
  await live.report('n#9', '{}', 60_000);
  const ttl = await client.pttl(`rep:${run}:live:v1:rep:{n#9}`);
  t.ok(ttl > 50_000 && ttl <= 60_000, `the key expires with the report (${ttl} ms)`);
  await live.report('n#9', '{}', 1);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(await client.exists(`rep:${run}:live:v1:rep:{n#9}`), 0, 'a 1 ms report is gone');
});

t.test('startReports publishes a process report and withdraws it on stop', async (t) => {
  const store = new MemoryStore(() => Date.now());
  const health = new SourceHealth({ downAfter: 1, downMs: 60_000 });
  const waiting = new WaitingMessages();
  waiting.delayed('m1', 'google', 's2', 1000);
  waiting.delayed('m2', 'google', 's2', 500);
  health.failed('bad', Date.now(), 'cannot bind 192.0.2.1 (EADDRNOTAVAIL)');
  const reports = startReports(store, { node: 'mx1', health, waiting, clock: () => Date.now() }, 60_000);
  await new Promise((r) => setTimeout(r, 10));
  const [one, ...rest] = await readReports(store);
  t.same(rest, [], 'one report');
  t.match(one, {
    node: 'mx1',
    pid: process.pid,
    sources: [{ source: 'bad', state: 'down', reason: 'cannot bind 192.0.2.1 (EADDRNOTAVAIL)' }],
    waiting: [{ source: 's2', provider: 'google', count: 2, oldestQueuedAt: 500 }],
  });
  t.equal((await store.reports()).value[0]?.id, reportId('mx1', process.pid));
  await store.report('junk#1', 'not json', 60_000);
  t.equal((await readReports(store)).length, 1, 'an unreadable report is left out');
  reports.stop();
  await new Promise((r) => setTimeout(r, 10));
  t.same(
    (await readReports(store)).map((r) => r.node),
    [],
    'withdrawn on stop',
  );
});
