/**
 * Down marks are per process whatever the store: with the Redis store a
 * source that cannot bind is marked down and skipped the same way, and
 * `paceline status` shows the lanes from Redis and the marks from the
 * process's sources file.
 */
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { startHaraka, type HarakaProcess } from '../helpers/haraka';
import { startReceiver } from '../helpers/receiver';
import { startRedis } from '../helpers/redis';
import { sendMany } from '../helpers/client';
import { main } from '../../lib/cli/main';

t.test('with store=redis a source that cannot bind is marked down, skipped and shown by status', async (t) => {
  const redis = await startRedis();
  t.teardown(() => redis.stop());
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  const yaml = `
sources:
  good: { address: 127.0.0.2, helo: good.paceline.test }
  bad: { address: 192.0.2.1, helo: bad.paceline.test }
pools:
  default: { sources: [good, bad] }
providers:
  partner: { mx: [mx.partner.test], limits: { rate: unlimited, concurrency: unlimited } }
static_mx:
  partner.test:
    - { host: mx.partner.test, address: 127.0.0.1, port: ${rx.port} }
`;
  const haraka: HarakaProcess = await startHaraka({
    name: 'sources-redis',
    plugins: ['test_relay', 'paceline'],
    files: {
      'config/paceline.yaml': yaml,
      'config/paceline.ini': `[main]\nstore=redis\n[redis]\nurl=${redis.url}\nprefix=src${randomUUID().slice(0, 8)}\n[sources]\ndown_after=2\ndown_for=10m\n`,
      'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*30\nenable_tls=false\nlocal_mx_ok=true\n',
    },
  });
  t.teardown(() => haraka.stop());
  await haraka.waitForLog(/paceline ready/, 10_000);
  const msgs = Array.from({ length: 12 }, (_, i) => ({
    from: 's@paceline.test',
    to: [`r${i}@partner.test`],
    messageId: `<redis-${i}@paceline.test>`,
  }));
  await sendMany(haraka.port, msgs, 4);
  await haraka.waitForLog(
    /source bad marked down until .* after 2 attempts in a row reached no MX host: cannot bind 192\.0\.2\.1 \(EADDRNOTAVAIL\)/,
    30_000,
  );
  await rx.waitFor(12, 60_000);
  await new Promise((r) => setTimeout(r, 1500)); // anything duplicated would arrive now

  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['status', haraka.dir, '--json'], { out: (l) => out.push(l), err: (l) => err.push(l) });
  t.equal(code, 0, err.join('\n'));
  const status = JSON.parse(out[0] as string) as {
    from: string;
    lanes: Array<{ source: string; sentToday: number }>;
    sources: Array<{ source: string; state: string }>;
  };
  t.equal(status.from, 'redis', 'lanes read from Redis');
  t.match(status.sources, [{ source: 'bad', state: 'down' }], "the down mark read from the process's report in Redis");
  t.equal(status.lanes.find((l) => l.source === 'good')?.sentToday, 12, 'the good lane sent all 12');
  const ids = rx.deliveries.map((d) => d.messageId);
  t.equal(new Set(ids).size, 12, 'every message once');
  t.equal(ids.length, 12);
  t.ok(
    rx.deliveries.every((d) => d.remoteAddress === '127.0.0.2'),
    'all from the good source',
  );
});
