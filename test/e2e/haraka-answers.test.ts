/**
 * How paceline answers Haraka, end to end: a real Haraka with Haraka's default
 * outbound.ini (no `local_mx_ok`), static_mx entries pointing at receivers on
 * loopback, a low rate so that most messages are
 * answered DELAY, and a few throttle replies on a second lane so that the
 * deferred hook answers DENYSOFT with seconds. Every message arrives, at the
 * paced rate, and the log has no ERROR line (Haraka 3.3 logs
 * `[ERROR] [core] what is N (typeof number)?` for a hook answer whose message
 * is a number).
 */
import t from 'tap';
import { startHaraka } from '../helpers/haraka';
import { startReceiver, type ReplyContext } from '../helpers/receiver';
import { sendMany, type MailSpec } from '../helpers/client';

const RATE = 4; // messages per second on the lane
const MESSAGES = 40;
const GOOGLE = 4; // messages on a second lane (s3 → Google)
const THROTTLES = 2; // the Google receiver's first MAIL FROMs answered 451 4.7.28
const RELAYED = 5; // messages of the relay test

/** Largest number of deliveries in any window [t, t + windowMs) starting at a delivery. */
function maxInWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let j = 0;
  for (let i = 0; i < sorted.length; i++) {
    while (j < sorted.length && (sorted[j] as number) < (sorted[i] as number) + windowMs) j++;
    best = Math.max(best, j - i);
  }
  return best;
}

const count = (text: string, re: RegExp): number => (text.match(new RegExp(re.source, 'g')) ?? []).length;

t.test(
  'a paced run through a local static_mx: every message arrives at the pace, and the log has no ERROR line',
  async (t) => {
    const ms = await startReceiver();
    let refused = 0;
    const google = await startReceiver({
      reply: (ctx: ReplyContext) =>
        ctx.stage === 'mail' && refused++ < THROTTLES
          ? {
              code: 451,
              message: `4.7.28 Our system has detected an unusual rate of unsolicited mail originating from your IP address.`,
            }
          : null,
    });
    t.teardown(() => ms.close());
    t.teardown(() => google.close());
    const haraka = await startHaraka({
      name: 'answers',
      plugins: ['test_relay', 'paceline'],
      files: {
        'config/paceline.yaml': `
sources:
  s2: { address: 127.0.0.2, helo: s2.paceline.test }
  s3: { address: 127.0.0.3, helo: s3.paceline.test }
pools:
  default: { sources: [s2] }
  other: { sources: [s3] }
providers:
  microsoft365: { limits: { rate: "${RATE}/s", concurrency: 5 } }
  google: { limits: { rate: unlimited, concurrency: unlimited } }
static_mx:
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${ms.port} }
  gmail.test:
    - { host: gmail-smtp-in.l.google.com, address: 127.0.0.1, port: ${google.port} }
`,
        // a throttle pauses a lane 3 s; the start phase raises the pace by half every 2 s
        'config/paceline.ini':
          '[main]\nlog_decisions=true\npool_header_unauthenticated=other\n[adapt]\nthrottle_pause=3s\nsame_event_window=2s\nstart_interval=2s\n',
        // no local_mx_ok (Haraka's default, false, as npm start leaves it): the static_mx entries are on 127.0.0.1
        'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*30\nenable_tls=false\n',
        // no TLS key or certificate: without this, Haraka logs an ERROR at start for each missing file
        'config/tls.ini': '[main]\nkey=\ncert=\n',
      },
    });
    t.teardown(() => haraka.stop());
    await haraka.waitForLog(/paceline ready/, 10_000);

    const msgs: MailSpec[] = [];
    for (let i = 0; i < MESSAGES; i++)
      msgs.push({ from: 's@paceline.test', to: [`u${i}@contoso.test`], messageId: `<a-${i}@paceline.test>` });
    for (let i = 0; i < GOOGLE; i++) {
      msgs.push({
        from: 's@paceline.test',
        to: [`g${i}@gmail.test`],
        messageId: `<g-${i}@paceline.test>`,
        headers: { 'X-Paceline-Pool': 'other' },
      });
    }
    await sendMany(haraka.port, msgs, 10);
    await ms.waitFor(MESSAGES, 90_000);
    await google.waitFor(GOOGLE, 30_000);
    await new Promise((r) => setTimeout(r, 1500)); // anything duplicated would arrive now

    const ids = [...ms.deliveries, ...google.deliveries].map((d) => d.messageId);
    t.equal(ids.length, MESSAGES + GOOGLE, 'every message arrived through its static_mx entry on 127.0.0.1');
    t.equal(new Set(ids).size, ids.length, 'each exactly once');
    t.ok(
      ms.deliveries.every((d) => d.remoteAddress === '127.0.0.2'),
      'the paced lane from 127.0.0.2',
    );
    t.ok(
      google.deliveries.every((d) => d.remoteAddress === '127.0.0.3'),
      'the throttled lane from 127.0.0.3',
    );
    t.equal(google.rejections.length, THROTTLES, `the Google receiver throttled ${THROTTLES} attempts`);

    const times = ms.deliveries.map((d) => d.receivedAt);
    const span = (Math.max(...times) - Math.min(...times)) / 1000;
    const least = (MESSAGES - 1) / RATE - 1.5;
    t.ok(span >= least, `${MESSAGES} messages took ${span.toFixed(1)} s; ${RATE}/s needs ≥ ${least.toFixed(1)} s`);
    // the rate plus a burst of 1, one more for delivery-time jitter
    const worst = maxInWindow(times, 1000);
    t.ok(worst <= RATE + 2, `at most ${RATE + 2} in any 1 s window (saw ${worst})`);

    const log = haraka.log();
    // Haraka's hook logger writes the answer's message: the seconds, now that they are a string
    const delays = count(log, /hook=send_email plugin=paceline [^\n]*retval=DELAY msg="?\d+/);
    const denysofts = count(log, /hook=deferred plugin=paceline [^\n]*retval=DENYSOFT msg="?\d+/);
    t.ok(
      delays >= MESSAGES / 2,
      `Haraka logged ${delays} DELAY answers with their seconds from paceline's send_email (≥ ${MESSAGES / 2})`,
    );
    t.ok(denysofts >= 1, `and ${denysofts} DENYSOFT answers with their seconds from its deferred hook`);
    t.notMatch(log, /MX [^\n]* is local, skipping/, 'Haraka never skipped a static_mx entry as a local MX');
    const errors = log.split('\n').filter((l) => /\[(ERROR|CRIT|ALERT|EMERG)\]/.test(l));
    t.same(errors, [], 'no ERROR (or worse) line in the log');
    t.equal(count(log, /what is /), 0, 'no "what is N" line');
  },
);

t.test('an overflow_relay on this host takes what the pool cannot send, without local_mx_ok', async (t) => {
  const ms = await startReceiver();
  const relay = await startReceiver();
  t.teardown(() => ms.close());
  t.teardown(() => relay.close());
  const haraka = await startHaraka({
    name: 'answers-relay',
    plugins: ['test_relay', 'paceline'],
    files: {
      // one message an hour on the lane: the rest overflows to the relay at once
      'config/paceline.yaml': `
sources:
  s2: { address: 127.0.0.2, helo: s2.paceline.test }
pools:
  default: { sources: [s2], overflow: reroute, overflow_relay: "127.0.0.1:${relay.port}" }
providers:
  microsoft365: { limits: { rate: "1/h", concurrency: 1 } }
static_mx:
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${ms.port} }
`,
      'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*30\nenable_tls=false\n',
      'config/tls.ini': '[main]\nkey=\ncert=\n',
    },
  });
  t.teardown(() => haraka.stop());
  await haraka.waitForLog(/paceline ready/, 10_000);
  const msgs: MailSpec[] = [];
  for (let i = 0; i < RELAYED; i++)
    msgs.push({ from: 's@paceline.test', to: [`r${i}@contoso.test`], messageId: `<r-${i}@paceline.test>` });
  await sendMany(haraka.port, msgs, 1);
  await new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + 60_000;
    const poll = setInterval(() => {
      if (ms.deliveries.length + relay.deliveries.length >= RELAYED) resolve();
      else if (Date.now() > deadline)
        reject(
          new Error(
            `${ms.deliveries.length} direct + ${relay.deliveries.length} relayed of ${RELAYED} arrived in 60 s`,
          ),
        );
      else return;
      clearInterval(poll);
    }, 200);
  });
  await new Promise((r) => setTimeout(r, 1500)); // anything duplicated would arrive now

  const ids = [...ms.deliveries, ...relay.deliveries].map((d) => d.messageId);
  t.equal(ids.length, RELAYED, 'every message arrived');
  t.equal(new Set(ids).size, RELAYED, 'each exactly once');
  t.ok(
    ms.deliveries.length >= 1 && ms.deliveries.every((d) => d.remoteAddress === '127.0.0.2'),
    `${ms.deliveries.length} on the lane, from s2`,
  );
  t.ok(relay.deliveries.length >= RELAYED - 2, `${relay.deliveries.length} through the relay on 127.0.0.1`);
  const log = haraka.log();
  t.match(
    log,
    /paceline send contoso\.test: overflow from pool default to relay 127\.0\.0\.1:\d+/,
    'the overflow is logged',
  );
  t.notMatch(log, /MX [^\n]* is local, skipping/, 'Haraka never skipped the relay as a local MX');
  t.same(
    log.split('\n').filter((l) => /\[(ERROR|CRIT|ALERT|EMERG)\]/.test(l)),
    [],
    'no ERROR (or worse) line in the log',
  );
});
