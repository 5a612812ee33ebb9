/**
 * Adaptation end to end: a real Haraka and a receiver imitating Microsoft 365
 * that answers `451 4.7.500 Server busy` to one source above a hidden rate.
 * The throttled lane slows down to what the receiver accepts, the other
 * source's lane keeps its pace, a hostile server's 4.7.500 touches only its own
 * lane, and every message arrives exactly once.
 */
import t from 'tap';
import { startHaraka } from '../helpers/haraka';
import { startReceiver, type ReplyContext } from '../helpers/receiver';
import { sendMany, type MailSpec } from '../helpers/client';

const HIDDEN_PER_S = 3; // what the receiver accepts from 127.0.0.2 per second, over a 5 s window
const PER_POOL = 90;

/** Accepts at most `perSecond` × 5 MAIL FROMs per sliding 5 s from `ip`; everything from other sources. */
function hiddenLimit(ip: string, perSecond: number) {
  const accepted: number[] = [];
  return (ctx: ReplyContext) => {
    if (ctx.stage !== 'mail' || ctx.remoteAddress !== ip) return null;
    while (accepted.length && (accepted[0] as number) <= ctx.now - 5000) accepted.shift();
    if (accepted.length >= perSecond * 5)
      return {
        code: 451,
        message: `4.7.500 Server busy. Please try again later from [${ip}]. (AS843) [BN8NAM11FT066.eop-nam11.prod.protection.outlook.com]`,
      };
    accepted.push(ctx.now);
    return null;
  };
}

t.test('a throttled lane converges under the hidden limit; other lanes keep their pace', async (t) => {
  const ms = await startReceiver({ reply: hiddenLimit('127.0.0.2', HIDDEN_PER_S) });
  let hostileAnswers = 0;
  const hostile = await startReceiver({
    reply: (ctx) =>
      ctx.stage === 'mail' && hostileAnswers++ < 8
        ? { code: 451, message: '4.7.500 Server busy. Please try again later from [127.0.0.3]' }
        : null,
  });
  t.teardown(() => ms.close());
  t.teardown(() => hostile.close());
  const haraka = await startHaraka({
    name: 'adapt',
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
  microsoft365: { limits: { rate: "10/s", concurrency: 10 } }
static_mx:
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${ms.port} }
  hostile.test:
    - { host: mx.hostile.test, address: 127.0.0.1, port: ${hostile.port} }
`,
      // fast reactions so that the test runs in about a minute: 2 s pauses,
      // climbs above the known-good pace every 5 s (2 s ÷ climb_cost 0.4), and
      // a start phase that raises the pace by half every 2 s
      'config/paceline.ini':
        '[main]\npool_header_unauthenticated=*\n[adapt]\nthrottle_pause=2s\nsame_event_window=2s\nrecover_interval=5s\nrecover_step=0.1\nclimb_cost=0.4\nstart_interval=2s\n',
      'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*60\nenable_tls=false\nlocal_mx_ok=true\n',
    },
  });
  t.teardown(() => haraka.stop());

  const msgs: MailSpec[] = [];
  for (let i = 0; i < PER_POOL; i++) {
    msgs.push({ from: 's@paceline.test', to: [`a${i}@contoso.test`], messageId: `<s2-${i}@paceline.test>` });
    msgs.push({
      from: 's@paceline.test',
      to: [`b${i}@contoso.test`],
      messageId: `<s3-${i}@paceline.test>`,
      headers: { 'X-Paceline-Pool': 'other' },
    });
  }
  for (let i = 0; i < 10; i++)
    msgs.push({
      from: 's@paceline.test',
      to: [`h${i}@hostile.test`],
      messageId: `<h-${i}@paceline.test>`,
      headers: { 'X-Paceline-Pool': 'other' },
    });
  const start = Date.now();
  await sendMany(haraka.port, msgs, 10);
  await ms.waitFor(2 * PER_POOL, 150_000);
  await hostile.waitFor(10, 60_000);
  await new Promise((r) => setTimeout(r, 1500));

  const ids = [...ms.deliveries, ...hostile.deliveries].map((d) => d.messageId);
  t.equal(ids.length, 2 * PER_POOL + 10, 'nothing extra');
  t.equal(new Set(ids).size, ids.length, 'every Message-ID exactly once');

  const s2 = ms.deliveries.filter((d) => d.remoteAddress === '127.0.0.2').map((d) => d.receivedAt);
  const s3 = ms.deliveries.filter((d) => d.remoteAddress === '127.0.0.3').map((d) => d.receivedAt);
  t.equal(s2.length, PER_POOL);
  t.equal(s3.length, PER_POOL);
  const rejects = ms.rejections.filter((r) => r.remoteAddress === '127.0.0.2').map((r) => r.at);
  t.equal(ms.rejections.filter((r) => r.remoteAddress === '127.0.0.3').length, 0, 's3 was never throttled');
  const s3Span = (Math.max(...s3) - start) / 1000;
  t.ok(
    s3Span < 25,
    `s3 reached its pace after a start phase: ${PER_POOL} messages in ${s3Span.toFixed(1)} s (10/s configured)`,
  );
  const s2Span = (Math.max(...s2) - start) / 1000;
  t.ok(s2Span > PER_POOL / HIDDEN_PER_S - 5, `s2 slowed to what the receiver accepts: ${s2Span.toFixed(1)} s`);
  const attempts = s2.length + rejects.length;
  const perHundred = (100 * rejects.length) / attempts;
  const half = start + (Math.max(...s2) - start) / 2;
  const early = rejects.filter((x) => x < half).length;
  const late = rejects.length - early;
  t.ok(late <= early, `throttle replies fall as the lane adapts (first half ${early}, second half ${late})`);
  t.ok(
    perHundred < 25,
    `${rejects.length} throttle replies per ${attempts} attempts on s2 (${perHundred.toFixed(1)} per 100)`,
  );
  t.match(
    haraka.log(),
    /paceline reply on s2\/microsoft365: throttle \(microsoft-as-throttle|paceline reply on s2\/microsoft365: throttle/,
    'reactions logged',
  );
  // Microsoft's rules apply to Microsoft only: elsewhere 4.7.500 "try again later" is transient
  t.match(
    haraka.log(),
    /paceline reply on s3\/mx:mx\.hostile\.test: transient/,
    'the hostile server’s replies land on its own lane',
  );
  t.notMatch(haraka.log(), /paceline reply on s3\/microsoft365/, 'and never s3’s Microsoft lane');
});
