/**
 * Operator controls on the shared store: two Haraka processes pace one lane
 * through one redis-server. A pause written by the CLI through Redis stops
 * both within about a second (the engine reads controls every 500 ms), shows
 * in `paceline status`, and a resume lets the rest of the backlog out. Lift
 * and reset reach the lane's state in Redis; typos are refused as on the
 * memory store.
 */
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { startReceiver } from '../helpers/receiver';
import { startRedis } from '../helpers/redis';
import { startAll, submitBacklog, type SharedSetup } from '../helpers/shared-run';
import { main } from '../../lib/cli/main';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Which Haraka sent a message: submitBacklog's Message-IDs are <tag-HOST-N@...>. */
const hostOf = (messageId: string) => messageId.split('-')[1];

t.test('a pause through Redis stops two Haraka processes within about a second', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const mailAt: number[] = [];
  const receiver = await startReceiver({
    reply: (ctx) => {
      if (ctx.stage === 'mail') mailAt.push(ctx.now);
      return null;
    },
  });
  t.teardown(() => receiver.close());
  const setup: SharedSetup = { redis: `url=${redis.url}`, rate: 4, burst: 1, processes: [0, 0], adaptIni: 'start=1' };
  const harakas = await startAll(receiver, setup, `t${randomUUID().slice(0, 8)}`);
  t.teardown(() => Promise.all(harakas.map((h) => h.stop())));
  const dir = (harakas[0] as (typeof harakas)[0]).dir;

  const typo = await cli('pause', dir, '--provider', 'microsoft', '--for', '1m');
  t.match(
    typo.err,
    /unknown provider "microsoft"; valid providers: .*microsoft365/,
    'a typo is refused with the valid names on Redis too',
  );

  // 60 messages at 4/s shared: about 15 s of mail. One host may take the first slots for
  // seconds before the other delivers at all; each must still have mail queued at the pause
  await submitBacklog(harakas, 30, 'ctl');
  // wait until both hosts deliver, then pause
  const t0 = Date.now();
  while (new Set(receiver.deliveries.map((d) => hostOf(d.messageId))).size < 2 && Date.now() - t0 < 30_000)
    await sleep(100);
  await sleep(1000);
  const before = receiver.deliveries.length;
  t.ok(
    new Set(receiver.deliveries.map((d) => hostOf(d.messageId))).size === 2,
    `both hosts delivered before the pause (${before} messages)`,
  );
  const paused = await cli('pause', dir, '--provider', 'microsoft365', '--reason', 'incident 42', '--who', 'bob');
  const pausedAt = Date.now();
  t.equal(paused.code, 0, paused.err);
  t.match(paused.out, /bob paused provider microsoft365 until resumed: incident 42/);
  const st = await cli('status', dir, '--json');
  t.match(
    JSON.parse(st.out).controls,
    [{ what: 'provider microsoft365', who: 'bob', reason: 'incident 42', until: null }],
    'status (from Redis) shows the pause',
  );

  for (const h of harakas)
    await h.waitForLog(
      /paceline: operator control in force: pause provider microsoft365 until resumed by bob: incident 42/,
      5000,
    );
  t.pass('each Haraka logged the pause it obeys: what, who, why');
  await sleep(Math.max(0, pausedAt + 7000 - Date.now()));
  const lateStarts = mailAt.filter((at) => at > pausedAt + 1500);
  const lastStart = Math.max(...mailAt.filter((at) => at > pausedAt - 1000));
  t.equal(
    lateStarts.length,
    0,
    `no delivery began later than 1.5 s after the pause on either host (last began ${lastStart - pausedAt} ms after it)`,
  );
  const during = receiver.deliveries.length;
  t.ok(during < 60, `mail was still queued when the pause held it (${during} of 60 delivered)`);

  // lift and reset act on the lane's state in Redis (the lane exists: it has sent)
  t.match(
    (await cli('lift', dir, '--provider', 'microsoft365')).out,
    /lifted suspensions and blocks of provider microsoft365 \(1 lane with state\)/,
  );
  const reset = JSON.parse((await cli('reset', dir, '--source', 's2', '--who', 'bob', '--json')).out) as {
    line: string;
    lanes: number;
  };
  t.match(
    reset,
    { line: /bob reset the pace of source s2 \(1 lane with state\)/, lanes: 1 },
    'reset --json: the line and the lanes changed',
  );
  t.equal(receiver.deliveries.length, during, 'lift and reset do not end an operator pause');

  const resumed = await cli('resume', dir, '--provider', 'microsoft365', '--who', 'bob');
  t.match(resumed.out, /bob resumed provider microsoft365$/, resumed.err);
  const resumedAt = Date.now();
  await receiver.waitFor(60, 50_000);
  for (const h of harakas)
    t.equal(
      h.log().match(/operator control (in force|ended): pause provider microsoft365/g)?.length,
      2,
      'each Haraka logged the pause once and its end once',
    );
  const firstAfter = Math.min(...mailAt.filter((at) => at > resumedAt));
  t.comment(
    `first delivery began ${firstAfter - resumedAt} ms after the resume; ${lastStart - pausedAt} ms from pause to the last start`,
  );
  t.same(JSON.parse((await cli('status', dir, '--json')).out).controls, [], 'status shows no control after the resume');
  const ids = receiver.deliveries.map((d) => d.messageId);
  t.equal(new Set(ids).size, 60, 'every message delivered exactly once');
  t.same(new Set(ids.map(hostOf)), new Set(['0', '1']), 'from both hosts');
});

t.test('under cluster mode (two workers) no control listener starts; the CLI acts through Redis', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const setup: SharedSetup = { redis: `url=${redis.url}`, rate: 50, burst: 1, processes: [2], adaptIni: 'start=1' };
  const [haraka] = await startAll(receiver, setup, `t${randomUUID().slice(0, 8)}`);
  if (!haraka) throw new Error('no Haraka started');
  t.teardown(() => haraka.stop());
  await haraka.waitForLog(/paceline ready[^\n]*\n(.|\n)*paceline ready/, 20_000); // both workers
  t.notMatch(haraka.log(), /operator controls listening/, 'no worker listens');
  t.notOk(fs.existsSync(path.join(haraka.dir, 'paceline.sock')), 'no socket in the Haraka dir');
  const paused = await cli('pause', haraka.dir, '--provider', 'microsoft365', '--for', '1m', '--who', 'hal');
  t.equal(paused.code, 0, paused.err);
  await submitBacklog([haraka], 2, 'cl');
  await haraka.waitForLog(/operator control in force: pause provider microsoft365 .* by hal/, 10_000);
  await sleep(3000);
  t.equal(receiver.deliveries.length, 0, 'the workers obey the pause written through Redis (nothing delivered 3 s on)');
  t.equal((await cli('resume', haraka.dir, '--provider', 'microsoft365')).code, 0);
  await receiver.waitFor(2, 30_000);
  t.pass('after the resume the two messages are delivered');
});
