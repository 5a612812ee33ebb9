/**
 * A source that cannot send, on a real Haraka: a pool of two sources, one of
 * them an address that is not on this host (192.0.2.1, TEST-NET-1: binding it
 * fails with EADDRNOTAVAIL, so nothing is ever sent from it). `check` reports
 * it; at run time it is marked down after down_after failures, every message
 * is delivered once from the other source, `status` shows it, and it is tried
 * again after down_for.
 */
import t from 'tap';
import { startHaraka, type HarakaProcess } from '../helpers/haraka';
import { startReceiver, type Receiver } from '../helpers/receiver';
import { sendMany, type MailSpec } from '../helpers/client';
import { main } from '../../lib/cli/main';

const DOWN_AFTER = 3;
const DOWN_FOR_S = 8;
const HARAKA_RETRY_S = 60;

function yaml(rx: Receiver): string {
  return `
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
}

async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

const batch = (tag: string, n: number): MailSpec[] =>
  Array.from({ length: n }, (_, i) => ({
    from: 's@paceline.test',
    to: [`${tag}${i}@partner.test`],
    messageId: `<${tag}-${i}@paceline.test>`,
  }));

t.test('a source that cannot bind is reported, marked down, skipped, shown and retried', async (t) => {
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  const haraka: HarakaProcess = await startHaraka({
    name: 'sources',
    plugins: ['test_relay', 'paceline'],
    files: {
      'config/paceline.yaml': yaml(rx),
      'config/paceline.ini': `[sources]\ndown_after=${DOWN_AFTER}\ndown_for=${DOWN_FOR_S}s\n`,
      // Haraka's own retry after a failed attempt is a minute: a message that failed on the bad source
      // is delivered sooner only because paceline sends it back at once to the pool's other source
      'config/outbound.ini': `[main]\ntemp_fail_intervals=${HARAKA_RETRY_S}s*30\nenable_tls=false\nlocal_mx_ok=true\n`,
    },
  });
  t.teardown(() => haraka.stop());
  await haraka.waitForLog(/paceline ready/, 10_000);

  const checked = await cli(['check', haraka.dir]);
  t.equal(checked.code, 1, 'check exits 1');
  t.match(checked.err.join('\n'), /source bad: address 192\.0\.2\.1 cannot be bound on this host \(EADDRNOTAVAIL\)/);

  await sendMany(haraka.port, batch('first', 20), 5);
  const submitted = Date.now();
  const marked = await haraka.waitForLog(
    /source bad marked down until \S+ \(\d+s\) after (\d+) attempts in a row reached no MX host: cannot bind 192\.0\.2\.1 \(EADDRNOTAVAIL\)/,
    30_000,
  );
  t.equal(Number(marked[1]), DOWN_AFTER, `marked down after ${marked[1]} failures in a row`);

  const status = await cli(['status', haraka.dir, '--json']);
  t.equal(status.code, 0, status.err.join('\n'));
  const sources = (
    JSON.parse(status.out[0] as string) as { sources: Array<{ source: string; state: string; reason: string }> }
  ).sources;
  t.match(
    sources,
    [{ source: 'bad', state: 'down', reason: 'cannot bind 192.0.2.1 (EADDRNOTAVAIL)' }],
    'status --json shows the down source',
  );
  const text = await cli(['status', haraka.dir]);
  t.match(
    text.out.join('\n'),
    /source bad: down until .* reached no MX host \(cannot bind 192\.0\.2\.1 \(EADDRNOTAVAIL\)\)/,
    'so does the table',
  );

  await rx.waitFor(20, 90_000);
  const took = (Date.now() - submitted) / 1000;
  t.ok(
    took < HARAKA_RETRY_S - 20,
    `the first batch was delivered ${took.toFixed(1)} s after submission, before Haraka's ${HARAKA_RETRY_S} s retry`,
  );
  const firstLog = haraka.log();
  const failedBefore =
    firstLog.slice(0, firstLog.indexOf('source bad marked down')).split('source bad reached no MX host').length - 1;
  const failedFirst = firstLog.split('source bad reached no MX host').length - 1;

  // after down_for the source is tried again: it fails once more and is marked down again
  await new Promise((r) => setTimeout(r, DOWN_FOR_S * 1000 + 500));
  await sendMany(haraka.port, batch('second', 10), 5);
  await rx.waitFor(30, 90_000);
  await new Promise((r) => setTimeout(r, 1500)); // anything duplicated would arrive now
  const log = haraka.log();
  const marks = log.split('source bad marked down until').length - 1;
  t.ok(marks >= 2, `tried again after down_for and marked down again (${marks} marks)`);

  const ids = rx.deliveries.map((d) => d.messageId);
  t.equal(ids.length, 30, 'every message delivered');
  t.equal(new Set(ids).size, 30, 'each once');
  const from = new Map<string, number>();
  for (const d of rx.deliveries) from.set(d.remoteAddress, (from.get(d.remoteAddress) ?? 0) + 1);
  t.same([...from], [['127.0.0.2', 30]], 'all through the good source');
  t.ok(
    rx.deliveries.every((d) => d.helo === 'good.paceline.test'),
    "with the good source's HELO",
  );
  t.notOk(/\[paceline\] paceline reply on bad\//.test(log), 'a bind failure is not classified as a provider reply');
  // Haraka logs each failed bind; without the down mark about half of all attempts would fail
  const bindFailures = log.split('Failed to get socket: bind EADDRNOTAVAIL').length - 1;
  const bound = DOWN_AFTER + 5 + 5; // the failures in a row, plus what was in flight (5 at a time) at the mark and at the retry
  t.ok(bindFailures <= bound, `${bindFailures} attempts failed to bind in all (at most ${bound})`);
  t.comment(`delivered per source: ${[...from].map(([ip, n]) => `${ip}=${n}`).join(', ')}`);
  t.comment(
    `first batch: ${failedBefore + 1} failures up to the first down mark, ${failedFirst + 1} in all; both batches: ${bindFailures} bind failures, ${marks} down marks`,
  );
});
