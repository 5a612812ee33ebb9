/**
 * lib/store/fallback.ts with the engine, on a fake clock: a backlog drained
 * through an outage of the shared store. The shared store is a memory store
 * that throws while "down" (a real Redis cannot run on a fake clock; the
 * e2e test test/e2e/fallback-share.redis.test.ts does the same with one).
 * Messages come back when the engine says (DELAY seconds, plus the up to 1 s
 * of Haraka's delay queue; holds exactly), as Haraka would bring them back.
 */
import t from 'tap';
import { buildConfig } from '../../lib/config/load';
import { Engine, type Ticket } from '../../lib/engine/engine';
import { MxResolver } from '../../lib/engine/mx';
import { FallbackStore } from '../../lib/store/fallback';
import { MemoryStore } from '../../lib/store/memory';
import type { PacingStore } from '../../lib/store/types';
import { DNS_TABLE, FakeClock, fakeDns } from '../helpers/fakes';

const R = 10;
const BURST = 2;
const NODES = 2;
const RETRY_MS = 2000;

/** A memory store that fails every call while `down`, as an unreachable Redis does; lists every call made to it. */
function switchable(inner: MemoryStore): { store: PacingStore; down: boolean; calls: string[] } {
  const ctl = { down: false, calls: [] as string[], store: undefined as unknown as PacingStore };
  ctl.store = new Proxy(inner, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function' || name === 'close') return value;
      return (...args: unknown[]) => {
        ctl.calls.push(String(name));
        if (ctl.down) return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return ctl;
}

function setUp() {
  const clock = new FakeClock();
  const yaml = {
    sources: { s2: { address: '127.0.0.2', helo: 's2.paceline.test' } },
    providers: { microsoft365: { limits: { rate: `${R}/s,burst=${BURST}`, concurrency: 'unlimited' } } },
  };
  const config = buildConfig({ adapt: { start: '1' } }, yaml);
  const shared = new MemoryStore(clock.now);
  const primary = switchable(shared);
  const logs: string[] = [];
  const log = (_level: string, text: string) => logs.push(text);
  const options = { policy: 'local' as const, clusterSize: NODES, retryMs: RETRY_MS, delayMs: 30_000, log };
  const store = new FallbackStore(primary.store, { ...options, clock: clock.now });
  const { dnsCacheMaxMs: cacheMaxMs, dnsNegativeMs: negativeMs } = config.settings;
  const dns = fakeDns(DNS_TABLE.mx, DNS_TABLE.addresses);
  const mx = new MxResolver({ cacheMaxMs, negativeMs, staticMx: config.staticMx }, dns, clock.now);
  return { clock, engine: new Engine(config, store, mx, clock.now), primary, shared, logs };
}

/**
 * Drains `count` messages queued at once; `down(t)` says whether the shared
 * store is down at `t` ms after the start. Returns each message's send time
 * (ms after the start) and how many times it came back.
 */
async function drain(count: number, down: (ms: number) => boolean, untilMs: number) {
  const { clock, engine, primary, logs } = setUp();
  const start = clock.now();
  const queue = Array.from({ length: count }, (_, i) => ({ i, at: start + i, ticket: {} as Ticket, returns: 0 }));
  const sent: number[] = [];
  const returns: number[] = [];
  /** The DELAYs (s) given while the shared store was down. */
  const delaysDown: number[] = [];
  let seed = 7;
  const jitter = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 1000;
  while (queue.length > 0) {
    queue.sort((a, b) => a.at - b.at);
    const m = queue.shift() as (typeof queue)[number];
    if (m.at - start > untilMs) break;
    clock.t = Math.max(clock.t, m.at);
    primary.down = down(clock.t - start);
    const d = await engine.decide({ id: `m${m.i}`, domain: 'contoso.test', queueTime: start }, m.ticket);
    if (d.action === 'send') {
      sent.push(clock.t - start);
      returns.push(m.returns);
    } else if (d.action === 'delay') {
      if (primary.down) delaysDown.push(d.seconds);
      queue.push({ ...m, at: clock.t + d.seconds * 1000 + jitter(), returns: m.returns + 1 });
    } else if (d.action === 'hold') queue.push({ ...m, at: clock.t + d.ms, returns: m.returns + 1 });
    else throw new Error(`unexpected decision ${d.action}: ${d.why}`);
  }
  return { sent, returns, delaysDown, calls: primary.calls, logs };
}

const within = (times: readonly number[], from: number, to: number) => times.filter((x) => x >= from && x < to).length;

/** Most sends in any window [x, x + 1000 ms) from `from` on. */
function busiestSecond(times: readonly number[], from: number): number {
  const after = times.filter((x) => x >= from).sort((a, b) => a - b);
  let best = 0;
  for (let i = 0, j = 0; i < after.length; i++) {
    while (j < after.length && (after[j] as number) < (after[i] as number) + 1000) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

t.test('down from the start for the whole run: the share (R / cluster_size) from the first second', async (t) => {
  const { sent, calls, logs, delaysDown } = await drain(100, () => true, 60_000);
  const share = R / NODES;
  t.equal(sent.length, 100, 'every message sent');
  for (const s of [0, 5, 10, 15]) {
    const got = within(sent, s * 1000, (s + 5) * 1000);
    t.ok(got >= 0.9 * share * 5 && got <= share * 5 + BURST, `${got} in seconds ${s}-${s + 5} (share ${share * 5})`);
  }
  const worst = busiestSecond(sent, 0);
  t.ok(worst <= share + 1, `never above the share and its burst in a second (${worst})`);
  // the first decision's peek finds the outage; after it only the probe (a peek) reaches the shared store
  t.same([...new Set(calls)], ['peek'], 'nothing but read-only peeks reached the shared store');
  const runMs = Math.max(...sent);
  t.ok(calls.length <= 2 + runMs / RETRY_MS, `at most one probe per retry_after (${calls.length} in ${runMs} ms)`);
  t.equal(logs.filter((l) => /shared store failed/.test(l)).length, 1, 'the outage is logged once');
  const longest = Math.max(...delaysDown);
  const back = `a local booking comes back within retry_after (${longest} s)`;
  t.ok(delaysDown.length > 0 && longest <= RETRY_MS / 1000, back);
});

t.test('down at start, back after 10 s: the share during the outage, then R within R + burst per second', async (t) => {
  const { sent, returns, logs } = await drain(150, (ms) => ms < 10_000, 60_000);
  const share = R / NODES;
  t.equal(sent.length, 150, 'every message sent');
  const during = within(sent, 0, 10_000);
  t.ok(during >= 0.9 * share * 10 && during <= share * 10 + BURST, `${during} in the 10 s outage (${share * 10})`);
  const later = within(sent, 15_000, 20_000);
  t.ok(later >= 0.9 * R * 5, `back at R once noticed: ${later} sent in seconds 15-20 (R × 5 = ${R * 5})`);
  const worst = busiestSecond(sent, 10_000);
  t.ok(worst <= R + BURST, `at most R + burst in any second after the return (${worst})`);
  t.match(logs.join('\n'), /shared store is back after \d+s; shared pacing resumed/);
  const most = Math.max(...returns);
  t.ok(most <= 2 + 60_000 / RETRY_MS, `a booked message comes back about once per retry_after at most (${most} times)`);
});

t.test('down from 3 s to 11 s: shared bookings book again locally, local ones on the shared store', async (t) => {
  const { sent } = await drain(150, (ms) => ms >= 3000 && ms < 11_000, 60_000);
  const share = R / NODES;
  t.equal(sent.length, 150, 'every message sent');
  t.ok(within(sent, 0, 3000) >= 0.9 * R * 3, `R before the outage (${within(sent, 0, 3000)} in 3 s)`);
  const during = within(sent, 3000, 11_000);
  t.ok(during >= 0.9 * share * 8 && during <= share * 8 + BURST, `${during} in the 8 s outage (share ${share * 8})`);
  const worst = busiestSecond(sent, 11_000);
  t.ok(worst <= R + BURST, `at most R + burst in any second after the return (${worst})`);
});

t.test('a failed status report is dropped: pacing stays on the shared store, no store error counted', async (t) => {
  const clock = new FakeClock();
  const primary = switchable(new MemoryStore(clock.now));
  const logs: string[] = [];
  const store = new FallbackStore(primary.store, {
    policy: 'local',
    clusterSize: NODES,
    retryMs: RETRY_MS,
    delayMs: 30_000,
    log: (_level: string, text: string) => logs.push(text),
    clock: clock.now,
  });
  primary.down = true;
  await store.report('n#1', '{}', 15_000);
  primary.down = false;
  t.equal(store.degraded, false, 'not in fallback after a failed report');
  t.equal(store.errors, 0, 'and no store error counted');
  t.same(logs, [], 'nothing logged');
  const lane = { source: 's2', provider: 'microsoft365' };
  await store.acquire(lane, {}, { mode: 'now', leaseId: 'a', leaseMs: 1000 });
  t.equal(primary.calls.filter((c) => c === 'acquire').length, 1, 'the next decision goes to the shared store');
});
