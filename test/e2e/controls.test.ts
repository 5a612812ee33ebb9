/**
 * Operator controls end to end on one Haraka with the memory store: the CLI
 * reaches the running Haraka through its control socket. A typo'd name is
 * refused with the valid names; a provider paused for 10 s gets nothing from
 * the receiver's view until the pause ends, while another provider's mail
 * flows; a paused source's mail leaves from the pool's other source; a
 * paused lane holds its mail until resumed; and the controls outlive a
 * restart (paceline-controls.json).
 */
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { startHaraka, type HarakaProcess } from '../helpers/haraka';
import { startReceiver, type Receiver } from '../helpers/receiver';
import { sendMany, type MailSpec } from '../helpers/client';
import { main } from '../../lib/cli/main';

function yaml(ms: Receiver, google: Receiver): string {
  return `
sources:
  s2: { address: 127.0.0.2, helo: s2.paceline.test }
  s3: { address: 127.0.0.3, helo: s3.paceline.test }
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

/** Runs the paceline command in-process; returns its exit code and output. */
async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface StatusJson {
  controls: Array<{ what: string; who: string; reason: string; until: string | null }>;
}

/** `paceline status --json`; right after a start the first snapshot may take a moment to appear. */
async function status(dir: string): Promise<StatusJson> {
  const until = Date.now() + 5000;
  for (;;) {
    const r = await cli('status', dir, '--json');
    if (r.code === 0) return JSON.parse(r.out) as StatusJson;
    if (!/no .*paceline-status\.json/.test(r.err) || Date.now() > until) throw new Error(r.err);
    await sleep(200);
  }
}

const mails = (tag: string, domain: string, n: number): MailSpec[] =>
  Array.from({ length: n }, (_, i) => ({
    from: 's@paceline.test',
    to: [`${tag}${i}@${domain}`],
    messageId: `<${tag}-${i}@paceline.test>`,
  }));

t.test('pause, resume and typos from the CLI on a running Haraka (memory store)', async (t) => {
  const ms = await startReceiver();
  const google = await startReceiver();
  t.teardown(() => ms.close());
  t.teardown(() => google.close());
  const files = {
    'config/paceline.yaml': yaml(ms, google),
    'config/paceline.ini': '[main]\nlog_decisions=false\n',
    'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*60\nenable_tls=false\nlocal_mx_ok=true\n',
  };
  const haraka: HarakaProcess = await startHaraka({ name: 'controls', plugins: ['test_relay', 'paceline'], files });
  t.teardown(() => haraka.stop());
  await haraka.waitForLog(/operator controls listening on .*paceline\.sock/, 20_000);

  // a typo is an error listing the valid names, and sets nothing
  const typo = await cli('pause', haraka.dir, '--provider', 'gogle', '--for', '10s');
  t.equal(typo.code, 1, 'a typo’d provider is refused');
  t.match(
    typo.err,
    /unknown provider "gogle"; valid providers: .*\bgoogle\b.*\bmicrosoft365\b/,
    `the valid providers are listed (${typo.err})`,
  );
  const typoSource = await cli('pause', haraka.dir, '--source', 's9');
  t.match(typoSource.err, /unknown source "s9"; valid sources: s2, s3/, 'a typo’d source lists the valid sources');
  t.match(
    (await cli('pause', haraka.dir, '--provider', 'google', '--for', 'soon')).err,
    /bad duration "soon"/,
    'a bad duration is refused',
  );
  t.same((await status(haraka.dir)).controls, [], 'nothing was paused by the refused requests');

  // a provider paused for 10 s: nothing reaches its receiver until then; the other provider flows
  const paused = await cli(
    'pause',
    haraka.dir,
    '--provider',
    'microsoft365',
    '--for',
    '10s',
    '--reason',
    'test window',
    '--who',
    'alice',
  );
  t.equal(paused.code, 0, paused.err);
  const pausedAt = Date.now();
  t.match(
    paused.out,
    /alice paused provider microsoft365 for 10s \(until .*\): test window/,
    'the CLI says what it did',
  );
  await haraka.waitForLog(/paceline control: alice paused provider microsoft365 for 10s .*: test window/, 5000);
  t.equal(haraka.log().match(/paceline control: alice paused/g)?.length, 1, 'the action is logged once');
  t.match(
    (await status(haraka.dir)).controls,
    [{ what: 'provider microsoft365', who: 'alice', reason: 'test window' }],
    'status shows the pause',
  );
  await sendMany(haraka.port, [...mails('ms', 'contoso.test', 6), ...mails('g', 'gmail.test', 4)], 5);
  await google.waitFor(4, 20_000);
  await sleep(Math.max(0, pausedAt + 9000 - Date.now()));
  t.equal(
    ms.deliveries.length,
    0,
    `nothing reached Microsoft 365 during the pause (Google got ${google.deliveries.length})`,
  );
  await ms.waitFor(6, 30_000);
  const first = Math.min(...ms.deliveries.map((d) => d.receivedAt));
  t.ok(
    first >= pausedAt + 9000,
    `the held mail left once the pause ended (first ${first - pausedAt} ms after the pause began)`,
  );
  t.same((await status(haraka.dir)).controls, [], 'an ended pause leaves status');

  // a paused source: its pool's other source carries the mail
  t.equal((await cli('pause', haraka.dir, '--source', 's2', '--reason', 'rDNS fix')).code, 0);
  await sendMany(haraka.port, mails('src', 'contoso.test', 4), 4);
  await ms.waitFor(10, 20_000);
  t.same(
    [...new Set(ms.deliveries.slice(6).map((d) => d.remoteAddress))],
    ['127.0.0.3'],
    'with s2 paused, everything left from s3',
  );

  // a paused lane holds its mail until an operator resumes it
  t.equal((await cli('pause', haraka.dir, '--source', 's3', '--provider', 'microsoft365')).code, 0);
  await sendMany(haraka.port, mails('lane', 'contoso.test', 3), 3);
  await sleep(6000);
  t.equal(ms.deliveries.length, 10, 'with both lanes to Microsoft 365 paused, nothing left for 6 s');
  const resumed = await cli('resume', haraka.dir, '--source', 's3', '--provider', 'microsoft365');
  t.match(resumed.out, /resumed lane s3\/microsoft365$/, resumed.err);
  const resumedAt = Date.now();
  await ms.waitFor(13, 30_000);
  t.ok(
    ms.deliveries.slice(10).every((d) => d.remoteAddress === '127.0.0.3'),
    'the held mail left from s3 after the resume',
  );
  t.comment(
    `held mail delivered ${Math.max(...ms.deliveries.map((d) => d.receivedAt)) - resumedAt} ms after the resume`,
  );
  t.match(
    (await cli('resume', haraka.dir, '--provider', 'google')).out,
    /resumed provider google \(it was not paused\)/,
    'resuming what is not paused says so',
  );

  // kept across a restart: the controls file brings s2's pause back
  const kept = fs.readFileSync(path.join(haraka.dir, 'paceline-controls.json'), 'utf8');
  await haraka.stop();
  const again = await startHaraka({
    name: 'controls-restart',
    plugins: ['test_relay', 'paceline'],
    files: { ...files, 'paceline-controls.json': kept },
  });
  t.teardown(() => again.stop());
  await again.waitForLog(/1 operator control\(s\) restored/, 20_000);
  t.match(
    (await status(again.dir)).controls,
    [{ what: 'source s2', reason: 'rDNS fix', until: null }],
    'status after the restart shows the pause of s2',
  );
  await sendMany(again.port, mails('after', 'gmail.test', 3), 3);
  await google.waitFor(7, 20_000);
  t.same(
    [...new Set(google.deliveries.slice(4).map((d) => d.remoteAddress))],
    ['127.0.0.3'],
    's2 is still paused after the restart',
  );
  const ids = [...ms.deliveries, ...google.deliveries].map((d) => d.messageId);
  t.equal(new Set(ids).size, 20, 'all 20 messages delivered, each once');
  t.notMatch(haraka.log() + again.log(), /bounc/i, 'nothing bounced');
});
