/**
 * Warm-up end to end on a real Haraka whose paceline clock the test moves on
 * (PACELINE_CLOCK_FILE): a pool of one warm and one new source, and a lone new
 * source with overflow = delay whose surplus waits for the next day.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { startHaraka, type HarakaProcess } from '../helpers/haraka';
import { startReceiver, type Receiver } from '../helpers/receiver';
import { sendMany, type MailSpec } from '../helpers/client';
import { main } from '../../lib/cli/main';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Start of the current UTC day, as a date string and epoch ms. */
const realStart = Math.floor(Date.now() / DAY) * DAY;
const today = new Date(realStart).toISOString().slice(0, 10);

function yaml(ms: Receiver, google: Receiver): string {
  return `
sources:
  warm: { address: 127.0.0.2, helo: warm.paceline.test }
  fresh: { address: 127.0.0.3, helo: fresh.paceline.test, warmup: { schedule: tiny, start: ${today} } }
  lone: { address: 127.0.0.4, helo: lone.paceline.test, warmup: { schedule: tiny, start: ${today} } }
pools:
  default: { sources: [warm, fresh] }
  solo: { sources: [lone], overflow: delay }
providers:
  microsoft365: { limits: { rate: unlimited, concurrency: unlimited } }
  google: { limits: { rate: unlimited, concurrency: unlimited } }
static_mx:
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${ms.port} }
  gmail.test:
    - { host: gmail-smtp-in.l.google.com, address: 127.0.0.1, port: ${google.port} }
`;
}

const WARMUP = `
schedules:
  tiny:
    progression: calendar
    days: [6, 12]
    providers:
      microsoft365: [4, 8]
`;

t.test('a new source carries exactly its day’s cap per provider; the surplus of a lone one waits a day', async (t) => {
  const ms = await startReceiver();
  const google = await startReceiver();
  t.teardown(() => ms.close());
  t.teardown(() => google.close());
  const clockFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-clock-')), 'offset');
  /** Sets paceline's clock to `at` (epoch ms). */
  // written whole (a temp file renamed over it), so the plugin never reads it half-written
  const setClock = (at: number) => {
    fs.writeFileSync(`${clockFile}.tmp`, String(at - Date.now()));
    fs.renameSync(`${clockFile}.tmp`, clockFile);
  };
  setClock(realStart + 5 * 60_000); // 00:05 on day 1
  const haraka: HarakaProcess = await startHaraka({
    name: 'warmup',
    plugins: ['test_relay', 'paceline'],
    env: { PACELINE_CLOCK_FILE: clockFile },
    files: {
      'config/paceline.yaml': yaml(ms, google),
      'config/paceline-warmup.yaml': WARMUP,
      'config/paceline.ini': '[main]\npool_header_unauthenticated=solo\n',
      'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*60\nenable_tls=false\nlocal_mx_ok=true\n',
    },
  });
  t.teardown(() => haraka.stop());

  // Day 1 of the simulation, every two hours: 2 messages to each provider through the default
  // pool; at 00:05 also 9 messages through the lone source (cap 6, overflow = delay). Each step
  // moves paceline's clock on and fires Haraka's waiting timers (SIGHUP).
  let n = 0;
  const lone: MailSpec[] = Array.from({ length: 9 }, (_, i) => ({
    from: 's@paceline.test',
    to: [`l${i}@gmail.test`],
    messageId: `<lone-${i}@paceline.test>`,
    headers: { 'X-Paceline-Pool': 'solo' },
  }));
  const loneSeen = () => google.deliveries.filter((d) => d.messageId.startsWith('<lone-'));
  const loneByStep: number[] = [];
  for (let step = 0; step < 18 && (step < 12 || loneSeen().length < 9); step++) {
    setClock(realStart + 5 * 60_000 + step * 2 * HOUR);
    await new Promise((r) => setTimeout(r, 150)); // the plugin re-reads its clock file every 100 ms
    process.kill(haraka.pid, 'SIGHUP');
    if (step < 12) {
      const msgs: MailSpec[] = [];
      for (const domain of ['contoso.test', 'gmail.test', 'contoso.test', 'gmail.test'])
        msgs.push({ from: 's@paceline.test', to: [`u${n}@${domain}`], messageId: `<d-${n++}@paceline.test>` });
      await sendMany(haraka.port, step === 0 ? [...msgs, ...lone] : msgs, 8);
      await ms.waitFor((step + 1) * 2, 10_000);
    }
    await new Promise((r) => setTimeout(r, 1000));
    loneByStep.push(loneSeen().length);
  }
  const count = (r: Receiver, ip: string) => r.deliveries.filter((d) => d.remoteAddress === ip).length;
  t.equal(count(ms, '127.0.0.3'), 4, 'fresh carried exactly its Microsoft cap for day 1 (4)');
  t.equal(count(google, '127.0.0.3'), 6, 'fresh carried exactly its default cap for day 1 (6) to Google');
  t.equal(count(ms, '127.0.0.2'), 20, 'warm carried the rest to Microsoft');
  t.equal(count(google, '127.0.0.2'), 18, 'warm carried the rest to Google');

  t.equal(loneSeen().length, 9, 'every message of the lone source delivered');
  t.ok(
    loneSeen().every((d) => d.remoteAddress === '127.0.0.4'),
    'never rerouted (overflow = delay)',
  );
  t.equal(
    loneByStep[11],
    6,
    `day 1 took exactly its cap (6), spread through the day; the surplus waited (${loneByStep.join(',')})`,
  );
  t.ok((loneByStep[1] as number) < 6, 'not all at once');
  const ids = google.deliveries.map((d) => d.messageId).concat(ms.deliveries.map((d) => d.messageId));
  t.equal(new Set(ids).size, ids.length, 'every Message-ID exactly once');
  t.notMatch(haraka.log(), /bounc/i, 'nothing bounced');

  // paceline status shows where each warming source stands (from the 10 s snapshot)
  await new Promise((r) => setTimeout(r, 10_500));
  const out: string[] = [];
  t.equal(
    await main(['status', haraka.dir, '--json'], { out: (l) => out.push(l), err: (l) => out.push(l) }),
    0,
    out.join('\n'),
  );
  const rows = (
    JSON.parse(out[0] as string) as {
      lanes: Array<{ source: string; provider: string; warmup?: { schedule: string; day: number; cap: number } }>;
    }
  ).lanes;
  const fresh = rows.find((r) => r.source === 'fresh' && r.provider === 'microsoft365');
  t.match(fresh?.warmup, { schedule: 'tiny', day: 2, cap: 8 }, 'the new source is on day 2 of its schedule by now');
  t.notOk(rows.find((r) => r.source === 'warm')?.warmup, 'the warm source has no warm-up');
});
