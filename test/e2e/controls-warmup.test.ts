/**
 * Warm-up controls end to end (memory store, the CLI through the control
 * socket): a new source on day 1 of a tiny schedule carries its cap; moved
 * past the ramp it is warm and new mail flows; reset to day 1 it carries
 * nothing more today (its day's volume is used). `paceline status --json`
 * shows each move at once.
 */
import t from 'tap';
import { startHaraka } from '../helpers/haraka';
import { startReceiver, type Receiver } from '../helpers/receiver';
import { sendMany, type MailSpec } from '../helpers/client';
import { main } from '../../lib/cli/main';

const today = new Date().toISOString().slice(0, 10);

function yaml(google: Receiver): string {
  return `
sources:
  warm: { address: 127.0.0.2 }
  lone: { address: 127.0.0.4, warmup: { schedule: tiny, start: ${today} } }
pools:
  default: { sources: [lone], overflow: delay }
  other: { sources: [warm] }
providers:
  google: { limits: { rate: unlimited, concurrency: unlimited } }
static_mx:
  gmail.test:
    - { host: gmail-smtp-in.l.google.com, address: 127.0.0.1, port: ${google.port} }
`;
}

const WARMUP = `
schedules:
  tiny:
    progression: calendar
    days: [2, 4]
`;

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mails = (tag: string, n: number): MailSpec[] =>
  Array.from({ length: n }, (_, i) => ({
    from: 's@paceline.test',
    to: [`${tag}${i}@gmail.test`],
    messageId: `<${tag}-${i}@paceline.test>`,
  }));

type Row = {
  source: string;
  provider: string;
  sentToday: number;
  warmup?: { day: number; cap: number | null; frozen?: true };
};

async function lane(dir: string): Promise<Row | undefined> {
  const r = await cli('status', dir, '--json');
  if (r.code !== 0) throw new Error(r.err);
  return (JSON.parse(r.out) as { lanes: Row[] }).lanes.find((l) => l.source === 'lone' && l.provider === 'google');
}

t.test('warmup reset and move take effect on a running Haraka', async (t) => {
  const google = await startReceiver();
  t.teardown(() => google.close());
  const haraka = await startHaraka({
    name: 'controls-warmup',
    plugins: ['test_relay', 'paceline'],
    files: {
      'config/paceline.yaml': yaml(google),
      'config/paceline-warmup.yaml': WARMUP,
      'config/paceline.ini': '[main]\nlog_decisions=false\n',
      'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*60\nenable_tls=false\nlocal_mx_ok=true\n',
    },
  });
  t.teardown(() => haraka.stop());
  await haraka.waitForLog(/operator controls listening/, 20_000);
  const dir = haraka.dir;

  t.match(
    (await cli('warmup', 'move', dir, '--source', 'warm', '--day', '2')).err,
    /source "warm" has no warm-up schedule; warming sources: lone/,
    'a source that is not warming is refused',
  );
  t.match(
    (await cli('warmup', 'move', dir, '--source', 'lone', '--day', '9')).err,
    /bad day "9": expected a day of schedule tiny from 1 to 2, or 3/,
    'a day beyond the ramp is refused',
  );
  t.match(
    (await cli('warmup', 'move', dir, '--source', 'lone', '--provider', 'gogle', '--day', '2')).err,
    /unknown provider "gogle"; valid providers:/,
    'a typo is refused',
  );

  // day 1: a cap of 2
  await sendMany(haraka.port, mails('d1-', 4), 4);
  await google.waitFor(2, 20_000);
  await sleep(4000);
  t.equal(google.deliveries.length, 2, 'day 1 carried its cap of 2; the rest waits');

  // moved to day 2: status shows it at once
  const moved = await cli(
    'warmup',
    'move',
    dir,
    '--source',
    'lone',
    '--day',
    '2',
    '--who',
    'erin',
    '--reason',
    'reputation fine',
  );
  t.match(
    moved.out,
    /erin moved the warm-up of source lone \(every provider\) to day 2 of tiny: reputation fine/,
    moved.err,
  );
  await haraka.waitForLog(/paceline control: erin moved the warm-up of source lone/, 5000);
  t.match(
    await lane(dir),
    { sentToday: 2, warmup: { day: 2, cap: 4 } },
    'status (rewritten by the action): day 2, cap 4, 2 sent today',
  );
  t.match(
    (await cli('warmup', 'freeze', dir, '--source', 'lone', '--provider', 'google')).out,
    /froze the warm-up of source lone \(provider google, tiny\)/,
  );
  t.match(await lane(dir), { warmup: { day: 2, cap: 4, frozen: true } }, 'status: frozen on day 2');
  t.match(
    (await cli('warmup', 'thaw', dir, '--source', 'lone', '--provider', 'google')).out,
    /thawed the warm-up of source lone/,
  );
  t.notOk((await lane(dir))?.warmup?.frozen, 'status: thawed');

  // past the ramp: warm, and new mail flows at once
  t.match(
    (await cli('warmup', 'move', dir, '--source', 'lone', '--provider', 'google', '--day', '3')).out,
    /to day 3 of tiny \(past the ramp: warm\)/,
  );
  const warmIds = mails('warm-', 3).map((m) => m.messageId);
  await sendMany(haraka.port, mails('warm-', 3), 3);
  const t0 = Date.now();
  while (!warmIds.every((id) => google.deliveries.some((d) => d.messageId === id)) && Date.now() - t0 < 20_000)
    await sleep(200);
  t.ok(
    warmIds.every((id) => google.deliveries.some((d) => d.messageId === id)),
    `a warm source takes new mail at once (${google.deliveries.length} delivered)`,
  );
  t.match(await lane(dir), { warmup: { day: 3, cap: null } }, 'status: day 3, no cap (warm)');

  // reset to day 1: today's volume (now over 2) is used, so nothing more leaves today
  const reset = await cli('warmup', 'reset', dir, '--source', 'lone', '--json');
  const answer = JSON.parse(reset.out) as { day: number; lanes: number };
  t.equal(answer.day, 1, 'reset --json: day 1');
  t.ok(answer.lanes > 1, `for every configured provider, built-in ones included (${answer.lanes})`);
  t.match(await lane(dir), { warmup: { day: 1, cap: 2 } }, 'status: back on day 1, cap 2');
  const before = google.deliveries.length;
  await sendMany(haraka.port, mails('after-', 2), 2);
  await sleep(6000);
  t.equal(
    google.deliveries.filter((d) => d.messageId.startsWith('<after-')).length,
    0,
    `after the reset nothing more left today (${before} delivered before)`,
  );
  t.notMatch(haraka.log(), /bounc/i, 'nothing bounced');
});
