/**
 * `paceline status` shows the limits `paceline check` and the engine use, on a
 * real Haraka with the Redis store: a source in a second pool with its own
 * pool limits, a source of the default pool, and a warming source whose
 * day's cap, spread rate and next slot the status must show.
 */
import t from 'tap';
import { startHaraka } from '../helpers/haraka';
import { startReceiver } from '../helpers/receiver';
import { startRedis } from '../helpers/redis';
import { sendMany, type MailSpec } from '../helpers/client';
import { runCli } from '../helpers/cli';

const today = new Date().toISOString().slice(0, 10);

interface Row {
  source: string;
  provider: string;
  rate: string;
  concurrency: number | null;
  perDay: number | null;
  sentToday: number;
  nextFreeS: number;
  warmup?: { day: number; cap: number | null };
  today: { attempts: number; delivered: number; bounced: number; deferred: Record<string, number> };
}

const run = runCli;

t.test('status --json limits match check for two pools and a warming source', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const haraka = await startHaraka({
    name: 'status-limits',
    plugins: ['test_relay', 'paceline'],
    files: {
      'config/paceline.ini': `[main]\nstore=redis\npool_header_unauthenticated=bulk\n[redis]\nurl=${redis.url}\nprefix=sl:\n[adapt]\nstart=1\n`,
      'config/paceline.yaml': `
sources:
  a: { address: 127.0.0.2 }
  warm: { address: 127.0.0.3, warmup: { schedule: ramp, start: ${today} } }
  b: { address: 127.0.0.4 }
pools:
  default: { sources: [a, warm] }
  bulk: { sources: [b], limits: { '*': { concurrency: 1, per_day: 500 } } }
providers:
  partner: { mx: [mx.partner.test], limits: { rate: 20/s, concurrency: 3 } }
static_mx:
  partner.test:
    - { host: mx.partner.test, address: 127.0.0.1, port: ${receiver.port} }
`,
      'config/paceline-warmup.yaml': 'schedules:\n  ramp: { progression: calendar, days: [40, 80] }\n',
      'config/outbound.ini': '[main]\nenable_tls=false\nlocal_mx_ok=true\n',
    },
  });
  t.teardown(() => haraka.stop());

  const msgs: MailSpec[] = [];
  for (let i = 0; i < 12; i++)
    msgs.push({ from: 's@paceline.test', to: [`d${i}@partner.test`], messageId: `<d-${i}@paceline.test>` });
  for (let i = 0; i < 4; i++) {
    msgs.push({
      from: 's@paceline.test',
      to: [`b${i}@partner.test`],
      messageId: `<b-${i}@paceline.test>`,
      headers: { 'X-Paceline-Pool': 'bulk' },
    });
  }
  await sendMany(haraka.port, msgs, 4);
  // The warming source carries its spread's burst (2) today; the rest goes through a and b.
  await receiver.waitFor(16, 60_000).catch((err: Error) => {
    const lines = haraka
      .log()
      .split('\n')
      .filter((l) => l.includes('paceline'));
    throw new Error(`${err.message}\n${lines.slice(-40).join('\n')}`);
  });

  const status = await run(['status', haraka.dir, '--json']);
  t.equal(status.code, 0, status.out.join('\n'));
  const rows = (JSON.parse(status.out[0] as string) as { lanes: Row[] }).lanes;
  const row = (source: string) => rows.find((r) => r.source === source && r.provider === 'partner');

  const check = await run(['check', haraka.dir]);
  t.equal(check.code, 0, check.out.join('\n'));
  /** check's `    partner: rate R, concurrency C, per_day D` line under `  source NAME:`. */
  const checked = (source: string) => {
    const at = check.out.findIndex((l) => l.trim().startsWith(`source ${source}:`));
    const line = check.out.slice(at + 1).find((l) => l.trim().startsWith('partner:')) ?? '';
    const m = /rate (\S+), concurrency (\S+), per_day (\S+)/.exec(line);
    if (!m) throw new Error(`no partner line for ${source} in check's output:\n${check.out.join('\n')}`);
    const num = (s: string) => (s === 'unlimited' ? null : Number(s));
    return { rate: m[1], concurrency: num(m[2] as string), perDay: num(m[3] as string) };
  };

  for (const source of ['a', 'b']) {
    const r = row(source);
    const c = checked(source);
    t.same(
      { rate: r?.rate, concurrency: r?.concurrency, perDay: r?.perDay },
      c,
      `${source}: status shows check's limits`,
    );
  }
  t.same(checked('b'), { rate: '20/s', concurrency: 1, perDay: 500 }, "b: the bulk pool's limits");
  const w = row('warm');
  t.equal(w?.concurrency, checked('warm').concurrency, "warm: check's concurrency");
  t.equal(w?.perDay, 40, "warm: today's warm-up cap, not the configured per_day");
  t.match(w?.rate, /^40\/day/, 'warm: the cap spread over the day');
  t.match(w?.warmup, { day: 1, cap: 40 });
  const sentWarm = receiver.deliveries.filter((d) => d.remoteAddress === '127.0.0.3').length;
  t.ok(sentWarm >= 1, `the warming source carried some mail (${sentWarm})`);
  t.equal(w?.sentToday, sentWarm, 'warm: sent today is what the receiver saw from it');
  t.ok((w?.nextFreeS ?? 0) > 20 * 60, `warm: its next slot is a spread interval away, not "now" (${w?.nextFreeS}s)`);
  const sentB = receiver.deliveries.filter((d) => d.remoteAddress === '127.0.0.4').length;
  t.equal(sentB, 4, "the bulk pool's mail went through b");
  t.equal(row('b')?.sentToday, 4);
  // the outcome counters, read from Redis: what the receiver accepted from each source
  for (const [source, address] of [
    ['a', '127.0.0.2'],
    ['warm', '127.0.0.3'],
    ['b', '127.0.0.4'],
  ] as const) {
    const got = receiver.deliveries.filter((d) => d.remoteAddress === address).length;
    t.match(
      row(source)?.today,
      { attempts: got, delivered: got, bounced: 0, deferred: {} },
      `${source}: delivered today = the receiver's count (${got})`,
    );
  }
});
