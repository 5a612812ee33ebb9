/**
 * The memory store survives a restart (issue 11 item 3): a real Haraka with
 * store=memory is stopped and started again in the same directory, and what the
 * receivers see shows the state held. A Yahoo-like receiver's [TSS04]
 * suspension (2 h) holds across a SIGKILL (from the periodic write) and a
 * SIGTERM; a warming source restarted in the middle of its second warm-up day
 * keeps that day and carries exactly the day's cap.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startHaraka, type HarakaProcess } from '../helpers/haraka';
import { startReceiver } from '../helpers/receiver';
import { sendMail, sendMany, type MailSpec } from '../helpers/client';
import { decodeState } from '../../lib/store/memory-codec';
import { STATE_FILE } from '../../lib/store/memory-file';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const OUTBOUND = '[main]\ntemp_fail_intervals=5s*60\nenable_tls=false\nlocal_mx_ok=true\n';
const TSS04 =
  '4.7.0 [TSS04] Messages from 127.0.0.2 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `test` every 200 ms until it holds; throws after `timeoutMs` saying what was awaited. */
async function until(what: string, timeoutMs: number, test: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

/** The state file's suspension of lane s2|yahoo (its pauseUntil), or 0. */
function fileSuspension(dir: string): number {
  try {
    const { snapshot } = decodeState(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8'));
    return snapshot.lanes.find((l) => l.lane.source === 's2' && l.lane.provider === 'yahoo')?.state.pauseUntil ?? 0;
  } catch {
    return 0;
  }
}

t.test('a [TSS04] suspension holds across a SIGKILL and a SIGTERM restart', async (t) => {
  let yahooRefusals = 0;
  const yahoo = await startReceiver({
    reply: (ctx) => (ctx.stage === 'mail' && yahooRefusals++ < 1 ? { code: 421, message: TSS04 } : null),
  });
  const google = await startReceiver();
  t.teardown(() => yahoo.close());
  t.teardown(() => google.close());
  const files = {
    'config/paceline.yaml': `
sources:
  s2: { address: 127.0.0.2, helo: s2.paceline.test }
pools:
  default: { sources: [s2] }
providers:
  yahoo: { limits: { rate: unlimited, concurrency: unlimited } }
  google: { limits: { rate: unlimited, concurrency: unlimited } }
static_mx:
  yahoo.test:
    - { host: mta5.am0.yahoodns.net, address: 127.0.0.1, port: ${yahoo.port} }
  gmail.test:
    - { host: gmail-smtp-in.l.google.com, address: 127.0.0.1, port: ${google.port} }
`,
    'config/outbound.ini': OUTBOUND,
  };
  let haraka: HarakaProcess = await startHaraka({
    name: 'restart-suspend',
    plugins: ['test_relay', 'paceline'],
    files,
  });
  t.teardown(() => haraka.stop());
  const mail = (id: string, domain: string): MailSpec => ({
    from: 's@paceline.test',
    to: [`${id}@${domain}`],
    messageId: `<${id}@paceline.test>`,
  });

  await sendMail(haraka.port, mail('y0', 'yahoo.test'));
  await haraka.waitForLog(/paceline reply on s2\/yahoo: suspend \(yahoo-tss04\) → suspended/, 30_000);
  const reactedAt = Date.now();
  await until('the suspension in the state file', 20_000, () => fileSuspension(haraka.dir) > Date.now() + HOUR);
  const writtenAfterS = (Date.now() - reactedAt) / 1000;
  t.ok(
    writtenAfterS < 10,
    `the periodic write had the suspension on disk ${writtenAfterS.toFixed(1)} s after the reaction`,
  );
  t.equal(yahoo.rejections.length, 1, 'the receiver answered [TSS04] once');

  for (const [how, signal] of [
    ['SIGKILL', 'SIGKILL'],
    ['SIGTERM', 'SIGTERM'],
  ] as const) {
    await haraka.stop(signal);
    haraka = await startHaraka({ dir: haraka.dir, plugins: [], files: {} });
    await haraka.waitForLog(/paceline: memory store restored from .* lanes/, 20_000);
    const before = google.deliveries.length;
    await sendMany(haraka.port, [mail(`y-${how}`, 'yahoo.test'), mail(`g-${how}`, 'gmail.test')], 2);
    await google.waitFor(before + 1, 30_000);
    const delay = await haraka.waitForLog(
      /paceline delay yahoo\.test: paused limit on s2, next slot in (\d+)s/,
      20_000,
    );
    await sleep(3000);
    t.equal(
      yahoo.deliveries.length,
      0,
      `after ${how}: nothing reached the suspended Yahoo lane (the control message to Google did)`,
    );
    t.equal(yahoo.rejections.length, 1, `after ${how}: no new attempt on Yahoo`);
    t.ok(Number(delay[1]) > 6000, `after ${how}: Yahoo mail waits for the end of the 2 h suspension (${delay[1]} s)`);
  }
  t.notMatch(haraka.log(), /unusable|bounc/i, 'no state file set aside, nothing bounced');
});

t.test('a warming source restarted mid-day keeps its warm-up day and carries exactly the day’s cap', async (t) => {
  const google = await startReceiver();
  t.teardown(() => google.close());
  const realStart = Math.floor(Date.now() / DAY) * DAY;
  const clockFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-clock-')), 'offset');
  // written whole (a temp file renamed over it), so the plugin never reads it half-written
  const setClock = (at: number) => {
    fs.writeFileSync(`${clockFile}.tmp`, String(at - Date.now()));
    fs.renameSync(`${clockFile}.tmp`, clockFile);
  };
  const files = {
    'config/paceline.yaml': `
sources:
  fresh: { address: 127.0.0.3, helo: fresh.paceline.test, warmup: { schedule: tiny } }
pools:
  default: { sources: [fresh], overflow: delay }
providers:
  google: { limits: { rate: unlimited, concurrency: unlimited } }
static_mx:
  gmail.test:
    - { host: gmail-smtp-in.l.google.com, address: 127.0.0.1, port: ${google.port} }
`,
    'config/paceline-warmup.yaml': 'schedules:\n  tiny:\n    progression: calendar\n    days: [2, 10, 20]\n',
    'config/outbound.ini': OUTBOUND,
  };
  const env = { PACELINE_CLOCK_FILE: clockFile };
  setClock(realStart + 5 * 60_000);
  let haraka: HarakaProcess = await startHaraka({
    name: 'restart-warmup',
    plugins: ['test_relay', 'paceline'],
    env,
    files,
  });
  t.teardown(() => haraka.stop());

  // Day 1: one message starts the source's warm-up (its start day is stored).
  await sendMail(haraka.port, { from: 's@paceline.test', to: ['w0@gmail.test'], messageId: '<w0@paceline.test>' });
  await google.waitFor(1, 30_000);
  t.match(haraka.log(), /warm-up tiny day 1, cap 2/, 'day 1 of the schedule');

  // Day 2 (cap 10, spread: one message per 2.4 h after a burst of 2): 5 messages, the clock moving
  // 2 h at a time (SIGHUP retries delayed mail) until they are all delivered; then a restart,
  // 9 more messages, and the rest of the day.
  const day2 = realStart + DAY + 5 * 60_000;
  const onDay2 = () => google.deliveries.length - 1;
  /** Sets the clock, fires Haraka's waiting timers and waits until deliveries stop for a second. */
  const step = async (at: number) => {
    setClock(at);
    await sleep(300);
    process.kill(haraka.pid, 'SIGHUP');
    let seen = -1;
    for (let i = 0; i < 20 && seen !== google.deliveries.length; i++) {
      seen = google.deliveries.length;
      await sleep(1000);
    }
  };
  const batch = (from: number, n: number): MailSpec[] =>
    Array.from({ length: n }, (_, i) => ({
      from: 's@paceline.test',
      to: [`d${from + i}@gmail.test`],
      messageId: `<d2-${from + i}@paceline.test>`,
    }));
  setClock(day2);
  await sleep(300);
  await sendMany(haraka.port, batch(0, 5), 5);
  let k = 0;
  for (; k < 12 && onDay2() < 5; k++) await step(day2 + k * 2 * HOUR);
  const beforeRestart = onDay2();
  t.equal(
    beforeRestart,
    5,
    `day 2: the first 5 messages delivered by ${new Date(day2 + (k - 1) * 2 * HOUR).toISOString().slice(11, 16)}`,
  );

  await haraka.stop();
  haraka = await startHaraka({ dir: haraka.dir, plugins: [], env, files: {} });
  await haraka.waitForLog(/paceline: memory store restored from .* lanes/, 20_000);
  await sendMany(haraka.port, batch(5, 9), 5);
  for (; k < 12; k++) await step(day2 + k * 2 * HOUR);
  const day2Total = onDay2();
  t.equal(
    day2Total,
    10,
    `day 2 carried exactly its cap across the restart (${beforeRestart} before, ${day2Total - beforeRestart} after)`,
  );
  t.match(
    haraka.log(),
    /(free|reserved) slot on fresh \(warm-up tiny day 2, cap 10\)/,
    'after the restart the source is still on day 2',
  );
  t.notMatch(haraka.log(), /warm-up tiny day 1/, 'never back on day 1');
  t.match(haraka.log(), /daily limit on fresh/, 'the surplus waits for the next day');

  // Day 3 (cap 20): the 4 left over leave.
  for (let j = 0; j < 6 && google.deliveries.length < 15; j++)
    await step(realStart + 2 * DAY + 5 * 60_000 + j * 1.5 * HOUR);
  const ids = google.deliveries.map((d) => d.messageId);
  t.equal(new Set(ids).size, 15, 'every Message-ID exactly once');
});

t.test('a truncated state file: Haraka starts with a warning, sets it aside and delivers', async (t) => {
  const google = await startReceiver();
  t.teardown(() => google.close());
  const truncated =
    '{"format":"paceline-memory-state","version":1,"savedAt":1796289795987,"pid":4242,"laneFields":["tat","vAt"';
  const haraka = await startHaraka({
    name: 'restart-truncated',
    plugins: ['test_relay', 'paceline'],
    files: {
      'config/paceline.yaml': `
sources:
  s2: { address: 127.0.0.2, helo: s2.paceline.test }
pools:
  default: { sources: [s2] }
providers:
  google: { limits: { rate: unlimited, concurrency: unlimited } }
static_mx:
  gmail.test:
    - { host: gmail-smtp-in.l.google.com, address: 127.0.0.1, port: ${google.port} }
`,
      'config/outbound.ini': OUTBOUND,
      [STATE_FILE]: truncated,
    },
  });
  t.teardown(() => haraka.stop());
  const warning = await haraka.waitForLog(
    /\[WARN\].*paceline: state file .* is unusable: (not JSON.*?); set aside as (\S+?); the memory store starts empty/,
    20_000,
  );
  t.match(warning[1], /truncated or damaged/, 'the warning says why');
  t.equal(fs.readFileSync(warning[2] as string, 'utf8'), truncated, 'the bad file is kept aside, unchanged');
  await sendMail(haraka.port, { from: 's@paceline.test', to: ['t0@gmail.test'], messageId: '<t0@paceline.test>' });
  await google.waitFor(1, 30_000);
  t.equal(google.deliveries.length, 1, 'mail flows');
  await until('a new state file', 20_000, () => {
    try {
      return decodeState(fs.readFileSync(path.join(haraka.dir, STATE_FILE), 'utf8')).snapshot.lanes.length === 1;
    } catch {
      return false;
    }
  });
  t.pass('a good state file replaces it');
});
