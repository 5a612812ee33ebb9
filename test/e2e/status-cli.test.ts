/**
 * `paceline status` as an operator scripts it, on a real Haraka with the
 * memory store: one lane paused by a throttle reply and one that is fine;
 * --json's machine state (kind, until as ISO), the filters, --config as the
 * positional form, --watch re-printing until killed, --version, and a
 * snapshot whose Haraka was killed reported gone and then stale.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startHaraka } from '../helpers/haraka';
import { startReceiver } from '../helpers/receiver';
import { sendMany, type MailSpec } from '../helpers/client';
import { runCli, statusJson, statusUntil } from '../helpers/cli';

const ROOT = path.resolve(__dirname, '..', '..');

interface Counts {
  attempts: number;
  delivered: number;
  deferred: Record<string, number>;
  bounced: number;
  throttles: number;
  throttlesPer100: number | null;
}
interface Lane {
  source: string;
  provider: string;
  today: Counts;
  lastHour: Counts;
  waiting: number;
  oldestWaitingQueuedAt: string | null;
  sentToday: number;
  nextFreeAt: string;
  stateText: string;
  state: {
    kind: string;
    kinds: string[];
    until: string | null;
    pausedUntil: string | null;
    reason: string | null;
    rule: string | null;
    category: string | null;
    reply: string | null;
  };
}
interface Status {
  at: string;
  waiting: Array<{ source: string | null; provider: string; count: number; oldestQueuedAt: string }>;
  notes: string[];
  snapshot: { pid: number | null; pidAlive: boolean | null; stale: boolean; ageS: number; writtenAt: string } | null;
  lanes: Lane[];
}

const run = runCli;
const status = (dir: string, ...more: string[]) => statusJson<Status>(dir, ...more);
const until = (dir: string, ok: (s: Status) => boolean, timeoutMs: number) => statusUntil<Status>(dir, ok, timeoutMs);

t.test('status --json, filters, --watch and a killed Haraka', async (t) => {
  let accepted = 0;
  const ms = await startReceiver({
    reply: (ctx) =>
      ctx.stage === 'mail' && accepted++ >= 3
        ? { code: 451, message: '4.7.500 Server busy. Please try again later from [127.0.0.2]' }
        : null,
  });
  // the partner refuses one mailbox for good: that message bounces
  const partner = await startReceiver({
    reply: (ctx) =>
      ctx.stage === 'rcpt' && ctx.rcptTo[ctx.rcptTo.length - 1] === 'nobody@partner.test'
        ? { code: 550, message: '5.1.1 No such user' }
        : null,
  });
  // the bounce report goes back to the sender's domain, here
  const home = await startReceiver();
  t.teardown(() => ms.close());
  t.teardown(() => partner.close());
  t.teardown(() => home.close());
  const haraka = await startHaraka({
    name: 'status-cli',
    plugins: ['test_relay', 'paceline'],
    files: {
      'config/paceline.yaml': `
sources:
  s2: { address: 127.0.0.2 }
  s3: { address: 127.0.0.3 }
pools:
  default: { sources: [s2] }
  other: { sources: [s3] }
providers:
  partner: { mx: [mx.partner.test] }
static_mx:
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${ms.port} }
  partner.test:
    - { host: mx.partner.test, address: 127.0.0.1, port: ${partner.port} }
  paceline.test:
    - { host: mx.home.test, address: 127.0.0.1, port: ${home.port} }
`,
      // a long pause, so that the throttled lane is still paused when status reads it
      'config/paceline.ini': '[main]\npool_header_unauthenticated=*\n[adapt]\nstart=1\nthrottle_pause=4m\n',
      'config/outbound.ini': '[main]\ntemp_fail_intervals=10m*10\nenable_tls=false\nlocal_mx_ok=true\n',
    },
  });
  t.teardown(() => haraka.stop());

  const msgs: MailSpec[] = [];
  for (let i = 0; i < 6; i++)
    msgs.push({ from: 's@paceline.test', to: [`a${i}@contoso.test`], messageId: `<ms-${i}@paceline.test>` });
  for (let i = 0; i < 4; i++) {
    msgs.push({
      from: 's@paceline.test',
      to: [`p${i}@partner.test`],
      messageId: `<p-${i}@paceline.test>`,
      headers: { 'X-Paceline-Pool': 'other' },
    });
  }
  msgs.push({
    from: 's@paceline.test',
    to: ['nobody@partner.test'],
    messageId: '<p-bounce@paceline.test>',
    headers: { 'X-Paceline-Pool': 'other' },
  });
  const testStart = Date.now();
  await sendMany(haraka.port, msgs, 4);
  await partner.waitFor(4, 60_000);
  await ms.waitFor(3, 60_000);
  await home.waitFor(1, 60_000);
  const paused = (s: Status) =>
    s.lanes.some((l) => l.source === 's2' && l.provider === 'microsoft365' && l.state.kind === 'paused');
  // the snapshot is written every 10 s: wait until it holds every attempt the receivers answered
  const lane = (s: Status, source: string, provider: string) =>
    s.lanes.find((l) => l.source === source && l.provider === provider);
  const allCounted = (s: Status) =>
    lane(s, 's2', 'microsoft365')?.today.attempts === ms.deliveries.length + ms.rejections.length &&
    lane(s, 's3', 'partner')?.today.attempts === 5;
  // the messages told to wait are published every 10 s too
  const waitingMs = (s: Status) => s.waiting.filter((w) => w.provider === 'microsoft365');
  const waitingAll = (s: Status) => waitingMs(s).reduce((n, w) => n + w.count, 0) === 6 - ms.deliveries.length;
  const sentAt = Date.now();
  const before = await until(haraka.dir, (s) => paused(s) && allCounted(s) && waitingAll(s), 40_000);
  t.ok(ms.rejections.length >= 1, `the receiver throttled s2 (${ms.rejections.length} replies)`);

  // the counts are what the receivers counted
  const throttled = ms.rejections.filter((r) => r.stage === 'mail' && r.code === 451).length;
  const msCounts = {
    attempts: 3 + throttled,
    delivered: 3,
    deferred: { throttle: throttled },
    bounced: 0,
    throttles: throttled,
  };
  t.match(
    lane(before, 's2', 'microsoft365')?.today,
    msCounts,
    's2/microsoft365 today: delivered, deferred by category, throttles',
  );
  t.match(lane(before, 's2', 'microsoft365')?.lastHour, msCounts, 'and in the last hour');
  t.equal(ms.deliveries.length, 3);
  t.equal(
    lane(before, 's2', 'microsoft365')?.today.throttlesPer100,
    Math.round((throttled * 1000) / (3 + throttled)) / 10,
    'throttle replies per 100 attempts',
  );
  // every message not delivered waits for Microsoft: on s2's lane, or (re-decided while it is paused) with no slot booked yet
  const onLane = waitingMs(before).find((w) => w.source === 's2');
  t.equal(
    lane(before, 's2', 'microsoft365')?.waiting,
    onLane?.count ?? 0,
    "the lane's row counts the ones waiting on it",
  );
  t.equal(lane(before, 's2', 'microsoft365')?.oldestWaitingQueuedAt, onLane?.oldestQueuedAt ?? null);
  t.ok(
    waitingMs(before).every((w) => w.source === null || w.source === 's2'),
    'none waits on another source',
  );
  for (const w of waitingMs(before)) {
    const oldest = Date.parse(w.oldestQueuedAt);
    t.ok(
      oldest > testStart - 1000 && oldest <= sentAt,
      `the oldest waiting was queued during the test (${w.oldestQueuedAt})`,
    );
  }
  t.equal(lane(before, 's3', 'partner')?.waiting, 0, 'nothing waits on the partner lane');
  t.notOk(before.waiting.some((w) => w.provider === 'partner'));
  const bounces = partner.rejections.filter((r) => r.stage === 'rcpt' && r.code === 550).length;
  t.equal(bounces, 1, 'the partner refused one mailbox once');
  t.same(
    lane(before, 's3', 'partner')?.today,
    { attempts: 5, delivered: 4, deferred: {}, bounced: 1, throttles: 0, throttlesPer100: 0 },
    's3/partner today',
  );
  t.equal(partner.deliveries.length, 4);
  const text0 = await run(['status', haraka.dir, '--source', 's3', '--provider', 'partner']);
  t.match(text0.out.join('\n'), /\b4\/0\/1\b/, 'the table shows delivered/deferred/bounced');

  t.equal(before.snapshot?.pid, haraka.pid, 'the snapshot names the Haraka process that wrote it');
  t.equal(before.snapshot?.pidAlive, true);
  t.equal(before.snapshot?.stale, false);
  t.same(before.notes, [], 'no note while Haraka runs');
  t.ok(Math.abs(Date.parse(before.at) - Date.now()) < 60_000, `at is an ISO time (${before.at})`);
  const s2 = before.lanes.find((l) => l.source === 's2' && l.provider === 'microsoft365');
  t.match(s2?.stateText, /^paused \d+s/, 'the words beside the machine fields');
  const pauseEnd = Date.parse(s2?.state.until ?? '');
  t.ok(pauseEnd > Date.parse(before.at) + 2 * 60_000, `paused until about 4 min on (${s2?.state.until})`);
  t.equal(s2?.state.pausedUntil, s2?.state.until);
  // why: the rule Haraka's log names for the reply, and the reply the receiver sent
  const rule = /paceline reply on s2\/microsoft365: throttle \(([^)]+)\)/.exec(haraka.log())?.[1];
  t.ok(rule, `the log names the rule (${rule})`);
  t.match(s2?.state, {
    rule,
    category: 'throttle',
    reply: /451 4\.7\.500 Server busy\. Please try again later from \[127\.0\.0\.2\]/,
  });
  t.match(s2?.state.reason, new RegExp(`^(slowed|overshot|extended) after a throttle reply \\(rule ${rule}\\)$`));
  t.match(s2?.stateText, `(rule ${rule})`, 'the table says why too');
  t.ok(Date.parse(s2?.nextFreeAt ?? '') >= pauseEnd, `its next slot is after the pause (${s2?.nextFreeAt})`);
  const s3 = before.lanes.find((l) => l.source === 's3' && l.provider === 'partner');
  // sentToday counts the slots taken: the 4 delivered and the one that bounced
  t.match(s3, {
    sentToday: partner.deliveries.length + 1,
    stateText: 'ok',
    state: { kind: 'ok', kinds: ['ok'], until: null },
  });

  // filters
  const lanesOf = (s: Status) => s.lanes.map((l) => `${l.source}|${l.provider}`).sort();
  t.same(lanesOf(await status(haraka.dir, '--state', 'paused')), ['s2|microsoft365'], '--state paused');
  t.same(lanesOf(await status(haraka.dir, '--provider', 'partner')), ['s3|partner'], '--provider partner');
  t.ok(
    lanesOf(await status(haraka.dir, '--source', 's3')).every((k) => k.startsWith('s3|')),
    '--source s3',
  );
  t.notOk(
    lanesOf(await status(haraka.dir, '--state', 'ok')).includes('s2|microsoft365'),
    '--state ok leaves the paused lane out',
  );
  const text = await run(['status', haraka.dir, '--state', 'paused']);
  t.equal(text.code, 0);
  t.match(text.out[0], /^paceline status from .*: 1 lane$/, 'the positional form, filtered');
  const bad = await run(['status', haraka.dir, '--state', 'sleepy']);
  t.equal(bad.code, 2, 'an unknown state is a usage error');
  t.match(
    bad.err.join('\n'),
    /--state needs one of blocked, paused, capped, connections, slowed, ok[\s\S]*usage: paceline status/,
  );
  const flag = await run(['status', haraka.dir, '--frobnicate']);
  t.equal(flag.code, 2, 'an unknown flag is a usage error');
  t.match(flag.err.join('\n'), /unknown option --frobnicate/);
  const noSource = await run(['status', '--config', haraka.dir, '--source', 'nosuch']);
  t.equal(noSource.code, 1);
  t.match(noSource.err.join('\n'), /no source "nosuch" \(sources: .*s2.*\)/);

  // --config and the positional form read the same directory, for check too
  t.equal((await run(['check', '--config', haraka.dir])).code, 0, 'check --config DIR');
  t.same(
    (await run(['check', '--config', haraka.dir])).out,
    (await run(['check', haraka.dir])).out,
    'check --config DIR prints what check DIR prints',
  );
  const version = await run(['--version']);
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  t.same(version.out, [`paceline ${pkg.version}`], "--version prints package.json's version");

  // --watch --count N prints N times; --watch alone re-prints until it is killed
  const counted = await run(['status', haraka.dir, '--json', '--watch', '1', '--count', '2']);
  t.equal(counted.code, 0);
  t.equal(counted.out.length, 2, 'two prints');
  t.ok(
    counted.out.every((l) => Array.isArray((JSON.parse(l) as Status).lanes)),
    'each a JSON line',
  );
  const watcher = spawn(process.execPath, [
    path.join(ROOT, 'dist', 'bin', 'paceline.js'),
    'status',
    '--config',
    haraka.dir,
    '--watch',
    '1',
  ]);
  let watched = '';
  watcher.stdout.on('data', (d: Buffer) => (watched += d.toString()));
  const prints = () => (watched.match(/^paceline status from/gm) ?? []).length;
  const watchEnd = Date.now() + 30_000;
  while (prints() < 3 && Date.now() < watchEnd) await new Promise((r) => setTimeout(r, 200));
  t.ok(watcher.exitCode === null, 'still watching after several prints');
  const exited = new Promise<NodeJS.Signals | null>((r) => watcher.on('exit', (_c, sig) => r(sig)));
  watcher.kill('SIGINT');
  t.equal(await exited, 'SIGINT', 'an interrupt ends it');
  t.ok(prints() >= 3, `re-printed (${prints()} prints)`);

  // Haraka killed: its snapshot stays, its pid is gone; past 3 × 10 s it is stale too
  await haraka.stop('SIGKILL');
  const gone = await status(haraka.dir);
  t.equal(gone.snapshot?.pidAlive, false, 'the writer is gone');
  t.match(gone.notes, [new RegExp(`the Haraka process that wrote this snapshot \\(pid ${haraka.pid}\\) is gone`)]);
  const goneText = await run(['status', haraka.dir]);
  t.match(goneText.out[1], /^note: the Haraka process that wrote this snapshot .* is gone/, 'the table says so too');
  const stale = await until(haraka.dir, (s) => s.snapshot?.stale === true, 60_000);
  t.ok((stale.snapshot?.ageS ?? 0) >= 30, `stale past 30 s (${stale.snapshot?.ageS} s)`);
  t.match(stale.notes, [/is gone/, /^stale: the snapshot is \d+ s old \(it is written every 10 s\)$/]);
  t.ok(
    stale.lanes.some((l) => l.source === 's2'),
    'the last numbers are still shown',
  );
});
