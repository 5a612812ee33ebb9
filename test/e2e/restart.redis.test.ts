/**
 * Issue 11 item 2: a Haraka killed with SIGKILL mid-run must not strand its
 * concurrency slots. A lane limited to C deliveries at once, a receiver that
 * takes D ms to answer DATA (so C leases are in flight at the kill); after a
 * restart in the same dir (same queue) the lane must run all C slots again
 * within 5 s, and the backlog drains with the lane's slots full: at ≥ 90 % of
 * C over the delivery time the lane measured (D plus Haraka's own set-up and
 * hooks), from 5 s after the restart on, as before the kill. With store=redis
 * the restarted node releases the leases of its earlier boot; with
 * store=memory a restart forgets them.
 */
import t from 'tap';
import type { Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startHaraka } from '../helpers/haraka';
import { startReceiver } from '../helpers/receiver';
import { sendMany, type MailSpec } from '../helpers/client';
import { command, startRedis } from '../helpers/redis';

const C = 4;
const D = 2000;
/** The lane's pace: C deliveries per D ms. */
const PACE = (C * 1000) / D;
const N = 40;
const KILL_AFTER = 12;

function files(port: number, store: string): Record<string, string> {
  return {
    'config/paceline.yaml': `
sources:
  s2: { address: 127.0.0.2, helo: s2.paceline.test }
providers:
  microsoft365: { limits: { concurrency: ${C} } }
static_mx:
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${port} }
`,
    'config/paceline.ini': `[main]\nlog_decisions=false\n${store}\n[adapt]\nstart=1\n`,
    'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*60\nenable_tls=false\nlocal_mx_ok=true\n',
  };
}

/** The lane's leases in Redis: [id, expiry epoch ms]. */
async function leasesInRedis(port: number, prefix: string): Promise<Array<[string, number]>> {
  const flat = (await command(port, 'ZRANGE', `${prefix}:v1:l:{s2|microsoft365}`, 0, -1, 'WITHSCORES')) as string[];
  const out: Array<[string, number]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i] as string, Number(flat[i + 1])]);
  return out;
}

/** The lane's measured mean delivery time (ms) in the memory store's state file. */
function meanInFile(dir: string): number {
  const body = JSON.parse(fs.readFileSync(path.join(dir, 'paceline-state.json'), 'utf8')) as {
    laneFields: string[];
    lanes: unknown[][];
  };
  return Number(body.lanes[0]?.[4 + body.laneFields.indexOf('meanDeliveryMs')]);
}

interface Run {
  readonly store: string;
  /** The lane's measured mean delivery time, ms (grant to outcome: the time a delivery holds its slot). */
  readonly meanDeliveryMs: (dir: string) => Promise<number>;
  /** Leases in the store just before the kill, and 1 s after the restart (Redis only). */
  readonly before?: () => Promise<Array<[string, number]>>;
}

async function killAndRestart(t: Test, run: Run): Promise<void> {
  /**
   * Sessions in a transaction (MAIL FROM seen, DATA not yet answered): deliveries in flight. Not connections:
   * a slot is released when Haraka has the 250 to DATA, and the next delivery may connect (woken at once)
   * before Haraka's QUIT has closed the previous connection.
   */
  const open = new Set<string>();
  let maxOpen = 0;
  /** [when, deliveries in flight then] at every MAIL FROM. */
  const opened: Array<[number, number]> = [];
  /** Per session: when it connected and closed. */
  const sessions = new Map<string, [number, number]>();
  const mailAt: number[] = [];
  /** Sessions whose DATA answer is being delayed. */
  const inData = new Set<string>();
  const receiver = await startReceiver({
    onConnect: (ctx) => {
      sessions.set(ctx.sessionId, [ctx.now, 0]);
      return null;
    },
    onClose: (ctx) => {
      open.delete(ctx.sessionId);
      inData.delete(ctx.sessionId);
      const session = sessions.get(ctx.sessionId);
      if (session) session[1] = ctx.now;
    },
    reply: (ctx) => {
      if (ctx.stage !== 'mail') return null;
      mailAt.push(ctx.now);
      open.add(ctx.sessionId);
      maxOpen = Math.max(maxOpen, open.size);
      opened.push([ctx.now, open.size]);
      return null;
    },
    delay: (ctx) => {
      if (ctx.stage !== 'data') return 0;
      inData.add(ctx.sessionId);
      setTimeout(() => {
        inData.delete(ctx.sessionId);
        open.delete(ctx.sessionId);
      }, D);
      return D;
    },
  });
  t.teardown(() => receiver.close());
  const first = await startHaraka({
    name: 'restart',
    plugins: ['test_relay', 'paceline'],
    files: files(receiver.port, run.store),
  });
  t.teardown(() => first.stop());
  const ids: string[] = [];
  const msgs: MailSpec[] = Array.from({ length: N }, (_, j) => {
    const messageId = `<restart-${j}-${randomUUID().slice(0, 6)}@paceline.test>`;
    ids.push(messageId);
    return { from: 's@paceline.test', to: [`u${j}@contoso.test`], messageId };
  });
  await sendMany(first.port, msgs, 10);
  await receiver.waitFor(KILL_AFTER, 60_000);
  // kill while deliveries are in flight (their DATA unanswered), not as a batch ends
  const inFlightBy = Date.now() + 20_000;
  while (inData.size < 2 && Date.now() < inFlightBy) await new Promise((r) => setTimeout(r, 20));
  const inFlight = inData.size;
  const held = run.before ? await run.before() : [];
  await first.stop('SIGKILL');
  const deliveredBefore = receiver.deliveries.length;
  const queued = first.queueFiles().length;
  const second = await first.restart();
  t.teardown(() => second.stop());
  const restarted = Date.now();
  await second.waitForLog(/released \d+ leases of its earlier boots/, 15_000);
  const after = run.before ? await run.before() : [];
  const unique = () => new Set(receiver.deliveries.map((d) => d.messageId)).size;
  const until = Date.now() + 90_000;
  while (unique() < N && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  const drained = Date.now();
  await new Promise((r) => setTimeout(r, 500));

  const got = receiver.deliveries.map((d) => d.messageId);
  t.equal(new Set(got).size, N, `every message arrived (${new Set(got).size} of ${N})`);
  // a message whose 250 the receiver sent as Haraka died is sent again (SMTP delivers at least once)
  t.ok(
    got.length <= N + C,
    `at most the ${C} in flight at the kill twice (${got.length - new Set(got).size} duplicates)`,
  );
  const resumedAt = Math.min(...mailAt.filter((x) => x > restarted));
  const resumeS = (resumedAt - restarted) / 1000;
  t.ok(resumeS < 5, `the first delivery after the restart began within 5 s (${resumeS.toFixed(1)} s)`);
  // the pace before the kill and after the restart (from 5 s on): deliveries completed over the time they took
  const times = receiver.deliveries.map((d) => d.receivedAt).sort((a, b) => a - b);
  const pace = (xs: number[], from: number) => xs.length / (((xs[xs.length - 1] as number) - from) / 1000);
  // before: after the first C (they began together), to the last one before the kill
  const beforeKill = times.slice(0, deliveredBefore);
  const paceBefore = pace(beforeKill.slice(C), beforeKill[C - 1] as number);
  const later = times.filter((x) => x > restarted + 5000);
  const paceAfter = later.length > 1 ? pace(later, restarted + 5000) : 0;
  t.ok(inFlight >= 2, `killed with ${inFlight} deliveries in flight`);
  const busiest = Math.max(0, ...opened.filter(([at]) => at > restarted && at < restarted + 5000).map(([, n]) => n));
  t.equal(busiest, C, `within 5 s of the restart the lane ran all ${C} of its slots at once (no slot stranded)`);
  t.ok(later.length >= 10, `mail kept flowing after the restart (${later.length} deliveries from 5 s after it on)`);
  // each message waiting for a slot has its own turn (lib/core/turn.ts), and a delivery that ends wakes the
  // next one held for its turn: the lane runs its slots full, at C over the time a delivery holds its slot
  // (the receiver's D plus Haraka's own connection set-up and hooks, which pacing cannot give back)
  const meanMs = await run.meanDeliveryMs(second.dir);
  const full = (C * 1000) / meanMs;
  const load = fs.readFileSync('/proc/loadavg', 'utf8').trim();
  const of = (p: number) =>
    `${p.toFixed(2)}/s: ${((100 * p) / full).toFixed(0)} % of C / ${meanMs.toFixed(0)} ms measured per delivery, ${((100 * p) / PACE).toFixed(0)} % of C / D (load ${load})`;
  t.ok(meanMs >= D && meanMs < 1.5 * D, `the lane measured its deliveries: ${meanMs.toFixed(0)} ms (D = ${D} ms)`);
  t.ok(paceBefore >= 0.9 * full, `slots full before the kill: ${of(paceBefore)}`);
  t.ok(paceAfter >= 0.9 * full, `slots full from 5 s after the restart: ${of(paceAfter)}`);
  t.ok(paceAfter >= 0.75 * PACE, `and at least 75 % of C / D = ${PACE}/s after the restart`);
  t.ok(maxOpen <= C, `never more than ${C} deliveries at once, before or after the restart (saw ${maxOpen})`);
  const left = after.filter(([id]) => held.some(([h]) => h === id)).length;
  const drainS = (drained - restarted) / 1000;
  const ideal = (N - deliveredBefore) / PACE;
  t.comment(
    `figures: ${run.store.split('\n')[0]}: ${queued} queued at the kill (${deliveredBefore} delivered), ${inFlight} deliveries and ${held.length} leases in flight at the kill, ${left} of them left after the restart (${after.length} leases in all), first delivery ${resumeS.toFixed(1)} s after the restart, pace ${paceBefore.toFixed(2)}/s before and ${paceAfter.toFixed(2)}/s after (configured ${PACE}/s), drained in ${drainS.toFixed(1)} s (ideal ${ideal.toFixed(1)} s), load ${load}`,
  );
  const spans = [...sessions.values()].filter(([a, b]) => a > restarted + 5000 && b > a).map(([a, b]) => b - a);
  const meanSpan = spans.reduce((x, y) => x + y, 0) / Math.max(1, spans.length);
  t.comment(
    `connections from 5 s after the restart: ${spans.length}, open ${meanSpan.toFixed(0)} ms on average (DATA answered after ${D} ms)`,
  );
  t.comment(
    `MAIL FROMs after the restart (s): ${mailAt
      .filter((x) => x > restarted)
      .map((x) => ((x - restarted) / 1000).toFixed(1))
      .join(' ')}`,
  );
  if (run.before) {
    t.ok(held.length >= 1, `leases were held at the kill (${held.length})`);
    t.equal(left, 0, 'none of them is left once the restarted node started');
  }
}

t.test(
  "store=redis: kill -9 mid-run, restart: the earlier boot's leases are released, the lane runs all its slots within 5 s",
  async (t) => {
    const redis = await startRedis();
    t.teardown(() => redis.stop());
    const prefix = `r${randomUUID().slice(0, 8)}`;
    const before = () => leasesInRedis(redis.port, prefix);
    const meanDeliveryMs = async () =>
      Number(await command(redis.port, 'HGET', `${prefix}:v1:s:{s2|microsoft365}`, 'm'));
    const store = `store=redis\n[redis]\nurl=${redis.url}\nprefix=${prefix}`;
    await killAndRestart(t, { store, before, meanDeliveryMs });
  },
);

t.test('store=memory: the same kill -9 and restart', async (t) => {
  await killAndRestart(t, { store: 'store=memory', meanDeliveryMs: async (dir) => meanInFile(dir) });
});
