/**
 * `paceline status`'s provider and source sections on a real Haraka with a
 * real redis-server: Microsoft throttles every source (a provider-wide
 * incident), an operator pauses the partner, a warming source carries part
 * of the partner's mail; every number in `status --json` (lanes, providers,
 * sources' warm-up use, waiting messages) is what the receivers counted.
 * Then two Haraka processes on one Redis: status sums the messages each
 * told to wait, and a killed one stops counting once its report expires.
 */
import t from 'tap';
import { startHaraka } from '../helpers/haraka';
import { startReceiver, type Receiver } from '../helpers/receiver';
import { startRedis } from '../helpers/redis';
import { sendMany, type MailSpec } from '../helpers/client';
import { runCli, statusJson, statusUntil } from '../helpers/cli';
import { startAll, submitBacklog } from '../helpers/shared-run';
import { REPORT_TTL_MS } from '../../lib/store/reports';

const today = new Date().toISOString().slice(0, 10);
const ADDRESS: Record<string, string> = { a: '127.0.0.2', b: '127.0.0.3', warm: '127.0.0.4' };

interface Counts {
  attempts: number;
  delivered: number;
  deferred: Record<string, number>;
  throttles: number;
  throttlesPer100: number | null;
}
interface Status {
  lanes: Array<{ source: string; provider: string; sentToday: number; today: Counts; state: { kind: string } }>;
  providers: Array<{
    provider: string;
    state: string;
    stateText: string;
    incident: {
      since: string | null;
      until: string | null;
      probing: boolean;
      sources: string[];
      reason: string;
    } | null;
    pause: { who: string; reason: string; until: string | null } | null;
    lanes: number;
    lanesByKind: Record<string, number>;
    today: Omit<Counts, 'deferred'>;
    lastHour: Omit<Counts, 'deferred'>;
    waiting: number;
  }>;
  sources: Array<{
    source: string;
    address: string | null;
    pools: string[];
    state: string;
    warmup: {
      schedule: string;
      lanes: Array<{ provider: string; day: number; cap: number | null; used: number }>;
    } | null;
    lanes: number;
    sentToday: number;
  }>;
  waiting: Array<{ source: string | null; provider: string; count: number }>;
  processes: Array<{ node: string | null; pid: number; waiting: number }>;
}

const from = (r: Receiver, address: string) => r.deliveries.filter((d) => d.remoteAddress === address).length;
const refusedFrom = (r: Receiver, address: string) => r.rejections.filter((x) => x.remoteAddress === address).length;

t.test('status: an incident, an operator pause and a warming source, as the receivers counted', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const partner = await startReceiver();
  t.teardown(() => partner.close());
  // Microsoft throttles every source: a provider-wide incident
  const ms = await startReceiver({
    reply: (ctx) =>
      ctx.stage === 'mail'
        ? { code: 451, message: '4.7.500 Server busy. Please try again later from [127.0.0.2]' }
        : null,
  });
  t.teardown(() => ms.close());
  const haraka = await startHaraka({
    name: 'status-sections',
    plugins: ['test_relay', 'paceline'],
    files: {
      'config/paceline.ini': `[main]\nstore=redis\n[redis]\nurl=${redis.url}\nprefix=ss:\n[adapt]\nstart=1\nthrottle_pause=4m\nincident_pause=10m\n`,
      'config/paceline.yaml': `
sources:
  a: { address: 127.0.0.2 }
  b: { address: 127.0.0.3 }
  warm: { address: 127.0.0.4, warmup: { schedule: ramp, start: ${today} } }
pools:
  default: { sources: [a, b, warm] }
providers:
  partner: { mx: [mx.partner.test], limits: { rate: 20/s, concurrency: 3 } }
static_mx:
  partner.test:
    - { host: mx.partner.test, address: 127.0.0.1, port: ${partner.port} }
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${ms.port} }
`,
      'config/paceline-warmup.yaml': 'schedules:\n  ramp: { progression: calendar, days: [40, 80] }\n',
      'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*60\nenable_tls=false\nlocal_mx_ok=true\n',
    },
  });
  t.teardown(() => haraka.stop());

  const msgs: MailSpec[] = [];
  for (let i = 0; i < 12; i++)
    msgs.push({ from: 's@paceline.test', to: [`p${i}@partner.test`], messageId: `<p-${i}@paceline.test>` });
  for (let i = 0; i < 6; i++)
    msgs.push({ from: 's@paceline.test', to: [`m${i}@contoso.test`], messageId: `<m-${i}@paceline.test>` });
  await sendMany(haraka.port, msgs, 4);
  await partner.waitFor(12, 60_000);
  const paused = await runCli([
    'pause',
    haraka.dir,
    '--provider',
    'partner',
    '--for',
    '30m',
    '--reason',
    'maintenance',
    '--who',
    'ann',
  ]);
  t.equal(paused.code, 0, paused.err.join('\n'));

  const provider = (s: Status, name: string) => s.providers.find((p) => p.provider === name);
  const lane = (s: Status, source: string, name: string) =>
    s.lanes.find((l) => l.source === source && l.provider === name);
  const throttledBy = () => Object.keys(ADDRESS).filter((s) => refusedFrom(ms, ADDRESS[s] as string) > 0);
  // settled: the incident declared, every reply counted, all six Microsoft messages told to wait
  const settled = (s: Status) =>
    provider(s, 'microsoft365')?.state === 'incident' &&
    provider(s, 'microsoft365')?.today.attempts === ms.rejections.length &&
    provider(s, 'microsoft365')?.waiting === 6;
  const s = await statusUntil<Status>(haraka.dir, settled, 120_000);
  t.equal(ms.deliveries.length, 0, 'Microsoft accepted nothing');

  // lanes: per source, what each receiver counted from its address
  for (const source of Object.keys(ADDRESS)) {
    const address = ADDRESS[source] as string;
    const got = from(partner, address);
    if (got > 0) {
      t.match(lane(s, source, 'partner')?.today, { attempts: got, delivered: got, deferred: {} }, `${source}/partner`);
      t.equal(lane(s, source, 'partner')?.sentToday, got, `${source}/partner: sent today = delivered`);
    } else t.notOk(lane(s, source, 'partner')?.today.attempts, `${source}/partner: nothing`);
    const refused = refusedFrom(ms, address);
    if (refused > 0)
      t.match(
        lane(s, source, 'microsoft365')?.today,
        { attempts: refused, delivered: 0, deferred: { throttle: refused }, throttles: refused },
        `${source}/microsoft365: ${refused} throttled`,
      );
  }

  // providers
  const m365 = provider(s, 'microsoft365');
  t.ok(throttledBy().length >= 2, `the receiver throttled several sources (${throttledBy().join(', ')})`);
  t.match(m365, {
    state: 'incident',
    incident: { probing: false, sources: throttledBy() },
    today: { attempts: ms.rejections.length, delivered: 0, throttles: ms.rejections.length, throttlesPer100: 100 },
    lastHour: { attempts: ms.rejections.length, throttles: ms.rejections.length, throttlesPer100: 100 },
    waiting: 6,
    pause: null,
  });
  t.match(m365?.incident?.reason, new RegExp(`^throttle replies on ${throttledBy().length} sources within 5m \\(`));
  t.ok(Date.parse(m365?.incident?.until ?? '') > Date.now() + 5 * 60_000, 'paused for the 10 min incident_pause');
  t.ok(Date.parse(m365?.incident?.since ?? '') <= Date.now(), `declared ${m365?.incident?.since}`);
  t.equal(m365?.lanes, s.lanes.filter((l) => l.provider === 'microsoft365').length, 'its lanes with state counted');
  const p = provider(s, 'partner');
  t.match(p, {
    state: 'paused',
    pause: { who: 'ann', reason: 'maintenance' },
    today: { attempts: 12, delivered: 12, throttles: 0, throttlesPer100: 0 },
    waiting: 0,
  });
  t.ok(Math.abs(Date.parse(p?.pause?.until ?? '') - (Date.now() + 30 * 60_000)) < 5 * 60_000, 'until about 30 min on');
  t.match(p?.stateText, /^paused by ann until \S+ \(maintenance\)$/);
  t.equal(
    s.waiting.reduce((n, w) => n + w.count, 0),
    6,
    'six messages wait in all',
  );

  // sources: up, in the default pool; the warming one's use of its cap
  t.same(
    s.sources.map((x) => [x.source, x.address, x.pools, x.state]),
    [
      ['a', '127.0.0.2', ['default'], 'up'],
      ['b', '127.0.0.3', ['default'], 'up'],
      ['warm', '127.0.0.4', ['default'], 'up'],
    ],
  );
  const warm = s.sources.find((x) => x.source === 'warm');
  const warmPartner = warm?.warmup?.lanes.find((l) => l.provider === 'partner');
  t.ok(from(partner, ADDRESS.warm as string) >= 1, 'the warming source carried some partner mail');
  t.match(warmPartner, { day: 1, cap: 40, used: from(partner, ADDRESS.warm as string) }, 'warm-up use = the receiver');
  t.equal(warm?.warmup?.schedule, 'ramp');
  t.equal(s.sources.find((x) => x.source === 'a')?.warmup, null, 'a warm source has no warm-up');

  // filters apply to the new sections
  const onlyPartner = await statusJson<Status>(haraka.dir, '--provider', 'partner');
  t.same(
    onlyPartner.providers.map((x) => x.provider),
    ['partner'],
    '--provider: that provider only',
  );
  t.ok(
    onlyPartner.sources.every((x) => x.warmup === null || x.warmup.lanes.every((l) => l.provider === 'partner')),
    "--provider: the sources' warm-up lanes of that provider",
  );
  const onlyA = await statusJson<Status>(haraka.dir, '--source', 'a');
  t.same(
    onlyA.sources.map((x) => x.source),
    ['a'],
    '--source: that source only',
  );
  t.equal(provider(onlyA, 'partner')?.today.attempts, from(partner, ADDRESS.a as string), "--source: a's lanes only");
  const pausedOnly = await statusJson<Status>(haraka.dir, '--state', 'paused');
  t.same(
    pausedOnly.providers.map((x) => x.provider),
    ['microsoft365', 'partner'],
    '--state paused: the provider in an incident and the one paused by the operator',
  );

  // the table
  const text = await runCli(['status', haraka.dir]);
  t.equal(text.code, 0);
  const out = text.out.join('\n');
  t.match(out, /^provider\s+lanes\s+thr\/100 today\s+thr\/100 h\s+waiting\s+state$/m);
  t.match(out, /^microsoft365\s+.*\s100\s+100\s+6\s+incident since \S+ until \S+: throttle replies on \d sources/m);
  t.match(out, /^partner\s+.*paused by ann until \S+ \(maintenance\)$/m);
  t.match(out, /^warm\s+127\.0\.0\.4\s+default\s+\d+\s+ramp \(calendar\) .*partner day 1 cap 40 used \d+/m);
});

t.test('status sums the waiting messages of two Haraka processes on one Redis', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  // one message an hour: the first goes, every other one waits
  const harakas = await startAll(
    receiver,
    { redis: `url=${redis.url}`, rate: 1, per: 'h', burst: 1, processes: [0, 0], adaptIni: 'start=1' },
    'sw:',
  );
  for (const h of harakas) t.teardown(() => h.stop());
  await submitBacklog(harakas, 4, 'wait');
  await receiver.waitFor(1, 60_000);
  const [h0, h1] = harakas as [(typeof harakas)[0], (typeof harakas)[0]];
  const sentBy = (i: number) => receiver.deliveries.filter((d) => d.messageId.startsWith(`<wait-${i}-`)).length;
  const total = (s: Status) => s.waiting.reduce((n, w) => n + w.count, 0);
  const both = await statusUntil<Status>(
    h0.dir,
    (s) => s.processes.length === 2 && total(s) === 8 - receiver.deliveries.length,
    60_000,
  );
  t.equal(receiver.deliveries.length, 1, 'one message went (burst 1, 1/h)');
  t.same(both.processes.map((p) => p.pid).sort(), [h0.pid, h1.pid].sort(), 'each Haraka process reported');
  const byPid = (s: Status, pid: number) => s.processes.find((p) => p.pid === pid)?.waiting;
  t.equal(byPid(both, h0.pid), 4 - sentBy(0), 'the first process: its messages not sent');
  t.equal(byPid(both, h1.pid), 4 - sentBy(1), 'the second too');
  t.equal(both.providers.find((p) => p.provider === 'microsoft365')?.waiting, 7, 'the provider: the sum');
  const fromOther = await statusJson<Status>(h1.dir);
  t.equal(total(fromOther), 7, 'the same from the other Haraka directory');

  await h1.stop('SIGKILL');
  const killedAt = Date.now();
  const right = await statusJson<Status>(h0.dir);
  // its last report is at most 5 s old: it counts for 10 s more at least
  t.equal(right.processes.length, 2, 'a killed process still counts until its report expires');
  t.equal(total(right), 7);
  const after = await statusUntil<Status>(h0.dir, (s) => s.processes.length === 1, REPORT_TTL_MS + 30_000);
  const tookS = (Date.now() - killedAt) / 1000;
  t.ok(tookS <= REPORT_TTL_MS / 1000 + 30, `gone after its TTL (${tookS.toFixed(1)} s)`);
  t.equal(after.processes[0]?.pid, h0.pid);
  t.equal(total(after), 4 - sentBy(0), "only the live process's waiting messages count");
});
