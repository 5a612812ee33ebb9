/**
 * paceline end to end on one node: a real Haraka with paceline loaded as an
 * npm package, real SMTP receivers imitating Microsoft 365 and Google on
 * loopback, and three source addresses (127.0.0.2-4) in two pools.
 */
import t from 'tap';
import { startHaraka, type HarakaProcess } from '../helpers/haraka';
import { startReceiver, type Delivery, type Receiver } from '../helpers/receiver';
import { sendMany, type MailSpec } from '../helpers/client';
import { main } from '../../lib/cli/main';

const RATE = 5; // messages per second per source to Microsoft 365
const MS_MESSAGES = 200;
const GOOGLE_MESSAGES = 20;
const BULK_MESSAGES = 10;

function yaml(ms: Receiver, google: Receiver): string {
  return `
sources:
  s2: { address: 127.0.0.2, helo: s2.paceline.test }
  s3: { address: 127.0.0.3, helo: s3.paceline.test }
  s4: { address: 127.0.0.4, helo: s4.paceline.test }
pools:
  default: { sources: [s2, s3] }
  bulk: { sources: [s4] }
providers:
  microsoft365: { limits: { rate: "${RATE}/s", concurrency: 20 } }
  google: { limits: { rate: unlimited, concurrency: unlimited } }
static_mx:
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${ms.port} }
  fabrikam.test:
    - { host: fabrikam-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${ms.port} }
  gmail.test:
    - { host: gmail-smtp-in.l.google.com, address: 127.0.0.1, port: ${google.port} }
`;
}

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

const bySource = (ds: Delivery[]) => {
  const m = new Map<string, Delivery[]>();
  for (const d of ds) m.set(d.remoteAddress, [...(m.get(d.remoteAddress) ?? []), d]);
  return m;
};

t.test('paces Microsoft 365 per source, leaves Google alone, honours pools', async (t) => {
  const ms = await startReceiver();
  const google = await startReceiver();
  t.teardown(() => ms.close());
  t.teardown(() => google.close());
  const haraka: HarakaProcess = await startHaraka({
    name: 'pacing',
    plugins: ['test_relay', 'paceline'],
    files: {
      'config/paceline.yaml': yaml(ms, google),
      // the test client relays without AUTH: it may name the bulk pool by header
      'config/paceline.ini': '[main]\nlog_decisions=true\npool_header_unauthenticated=bulk\n',
      // the receivers listen on 127.0.0.1, which Haraka skips as a local MX unless told otherwise
      'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*30\nenable_tls=false\nlocal_mx_ok=true\n',
    },
  });
  t.teardown(() => haraka.stop());
  await haraka.waitForLog(/paceline ready/, 10_000);

  const msgs: MailSpec[] = [];
  for (let i = 0; i < MS_MESSAGES; i++) {
    msgs.push({
      from: 'sender@paceline.test',
      to: [`user${i}@${i % 2 ? 'contoso' : 'fabrikam'}.test`],
      messageId: `<ms-${i}@paceline.test>`,
    });
    if (i % 10 === 0 && i / 10 < GOOGLE_MESSAGES)
      msgs.push({ from: 'sender@paceline.test', to: [`g${i}@gmail.test`], messageId: `<g-${i / 10}@paceline.test>` });
  }
  for (let i = 0; i < BULK_MESSAGES; i++) {
    msgs.push({
      from: 'sender@paceline.test',
      to: [`gb${i}@gmail.test`],
      messageId: `<bulk-${i}@paceline.test>`,
      headers: { 'X-Paceline-Pool': 'bulk' },
    });
  }
  const submitted = Date.now();
  await sendMany(haraka.port, msgs, 10);
  const submitEnd = Date.now();
  await google.waitFor(GOOGLE_MESSAGES + BULK_MESSAGES, 30_000);
  await ms.waitFor(MS_MESSAGES, 120_000);
  await new Promise((r) => setTimeout(r, 1500)); // anything duplicated would arrive now

  // exactly once
  const ids = [...ms.deliveries, ...google.deliveries].map((d) => d.messageId);
  t.equal(ids.length, MS_MESSAGES + GOOGLE_MESSAGES + BULK_MESSAGES, 'nothing extra arrived');
  t.equal(new Set(ids).size, ids.length, 'every Message-ID exactly once');

  // Microsoft 365: both default-pool sources, their own HELO, the rate held per source
  const sources = bySource(ms.deliveries);
  t.same([...sources.keys()].sort(), ['127.0.0.2', '127.0.0.3'], 'default pool sources only');
  for (const [ip, ds] of sources) {
    t.ok(
      ds.every((d) => d.helo === `s${ip.slice(-1)}.paceline.test`),
      `${ip} greets with its own HELO`,
    );
    const times = ds.map((d) => d.receivedAt);
    const span = (Math.max(...times) - Math.min(...times)) / 1000;
    t.ok(
      span >= (ds.length - 1) / RATE - 1.5,
      `${ip}: ${ds.length} messages took ${span.toFixed(1)} s, pacing at ${RATE}/s needs ≥ ${((ds.length - 1) / RATE - 1.5).toFixed(1)} s`,
    );
    // A message with a booked slot leaves on it: DELAY brings it back early and paceline
    // holds it in-process for the rest. So any 1 s window holds the rate plus the burst;
    // one more is allowed for delivery-time jitter (SMTP round trips vary by some ms).
    const bound = RATE + 1 + 1;
    const worst = maxInWindow(times, 1000);
    t.ok(worst <= bound, `${ip}: at most ${bound} in any 1 s window (saw ${worst}; unpaced would be ${ds.length})`);
  }
  const counts = [...sources.values()].map((d) => d.length);
  t.ok(Math.min(...counts) >= MS_MESSAGES * 0.35, `load spread over the pool: ${counts.join('/')}`);

  // Google: not slowed by the Microsoft backlog
  const gLatest = Math.max(...google.deliveries.map((d) => d.receivedAt));
  const msLatest = Math.max(...ms.deliveries.map((d) => d.receivedAt));
  t.ok(gLatest - submitEnd < 5000, `Google mail all delivered within 5 s of submission (${gLatest - submitEnd} ms)`);
  t.ok(msLatest - submitted > 15_000, 'while the Microsoft backlog drained for much longer');

  // pools: bulk mail leaves only from s4, and the header never leaves the server
  const bulk = google.deliveries.filter((d) => d.messageId.startsWith('<bulk-'));
  t.equal(bulk.length, BULK_MESSAGES);
  t.ok(
    bulk.every((d) => d.remoteAddress === '127.0.0.4' && d.helo === 's4.paceline.test'),
    'bulk pool → 127.0.0.4',
  );
  t.ok(
    google.deliveries.every((d) => !('x-paceline-pool' in d.headers)),
    'pool header removed',
  );
  t.ok(
    google.deliveries.filter((d) => !d.messageId.startsWith('<bulk-')).every((d) => d.remoteAddress !== '127.0.0.4'),
    'default pool never uses s4',
  );

  t.match(
    haraka.log(),
    /paceline delay \w+\.test: reserved rate slot on s[23], next slot in \d+s/,
    'decisions are logged',
  );

  // paceline status reads the snapshot the memory store writes every 10 s
  await new Promise((r) => setTimeout(r, 10_500));
  const out: string[] = [];
  const code = await main(['status', haraka.dir, '--json'], { out: (l) => out.push(l), err: (l) => out.push(l) });
  t.equal(code, 0, out.join('\n'));
  const status = JSON.parse(out[0] as string) as {
    lanes: Array<{ source: string; provider: string; sentToday: number; rate: string; inFlight: number }>;
  };
  const ms2 = status.lanes.find((l) => l.source === 's2' && l.provider === 'microsoft365');
  t.match(
    ms2,
    { rate: `${RATE}/s`, sentToday: 100, inFlight: 0 },
    'status shows the lane: its rate, what it sent today, nothing in flight',
  );
  t.ok(
    status.lanes.some((l) => l.source === 's4' && l.provider === 'google' && l.sentToday === BULK_MESSAGES),
    'and the bulk pool’s lane',
  );
  t.notMatch(haraka.log(), /bounc/i, 'nothing bounced');
});

t.test('the memory store refuses to start under cluster mode with several workers', async (t) => {
  const err = await startHaraka({ name: 'cluster-refused', plugins: ['test_relay', 'paceline'], nodes: 2 }).then(
    (h) => h.stop().then(() => null),
    (e: Error) => e,
  );
  t.ok(err, 'Haraka did not start');
  t.match(String(err?.message), /nodes=2 starts 2 workers.*store=redis/s, 'and the log names the fix');
});
