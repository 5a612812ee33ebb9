/**
 * A reload judges the config files as they are now: after a broken
 * paceline-replies.yaml or paceline-warmup.yaml is deleted, the next reload
 * is accepted (haraka-config alone keeps serving the deleted file's content,
 * so every reload was refused with its old errors). A real Haraka, a real
 * receiver; the pool's source shows which config the mail was sent under.
 */

import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { startHaraka, type HarakaProcess } from '../helpers/haraka';
import { startReceiver, type Receiver } from '../helpers/receiver';
import { sendMail } from '../helpers/client';

const INI = '[main]\nlog_decisions=false\n[adapt]\nstart=1\n';

function yaml(receiver: Receiver, source: 's2' | 's3'): string {
  return `
sources:
  s2: { address: 127.0.0.2, helo: s2.paceline.test }
  s3: { address: 127.0.0.3, helo: s3.paceline.test }
pools:
  default: { sources: [${source}] }
static_mx:
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: ${receiver.port} }
`;
}

function count(haraka: HarakaProcess, re: RegExp): number {
  return haraka
    .log()
    .split('\n')
    .filter((l) => re.test(l)).length;
}

/** Waits until `re` has matched `n` log lines (reloads follow file watching with a 5 s settle: generous timeout). */
async function waitForCount(haraka: HarakaProcess, re: RegExp, n: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (count(haraka, re) < n) {
    if (Date.now() > deadline)
      throw new Error(`fewer than ${n} log lines match ${re}:\n${haraka.log().split('\n').slice(-15).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const REFUSED = /paceline config NOT reloaded/;
const ACCEPTED = /paceline config reloaded: /;
const VERDICT = /paceline config (NOT )?reloaded/;

t.test('deleting a broken replies or warm-up file lets the next reload through', async (t) => {
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const haraka = await startHaraka({
    name: 'reload',
    plugins: ['test_relay', 'paceline'],
    files: {
      'config/paceline.yaml': yaml(receiver, 's2'),
      'config/paceline.ini': INI,
      'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*30\nenable_tls=false\nlocal_mx_ok=true\n',
    },
  });
  t.teardown(() => haraka.stop());
  await haraka.waitForLog(/paceline ready/, 15_000);
  const file = (name: string) => path.join(haraka.dir, 'config', name);
  let sent = 0;
  const sendFrom = async (want: string, why: string) => {
    sent++;
    await sendMail(haraka.port, {
      from: 's@paceline.test',
      to: [`u${sent}@contoso.test`],
      messageId: `<reload-${sent}@paceline.test>`,
    });
    await receiver.waitFor(sent, 30_000);
    t.equal(receiver.deliveries[sent - 1]?.remoteAddress, want, `message ${sent} left from ${want}: ${why}`);
  };
  await sendFrom('127.0.0.2', 'the starting config');

  const cases = [
    {
      name: 'paceline-replies.yaml',
      broken: 'rules:\n  - { code: 451, category: no-such-category }\n',
      error: /paceline-replies\.yaml: rules\[0\]/,
    },
    {
      name: 'paceline-warmup.yaml',
      broken: 'schedules:\n  slow: { days: [] }\n',
      error: /paceline-warmup\.yaml: schedules\.slow\.days/,
    },
  ];
  // haraka-config reloads a changed file 5 s after its last event, prints "Reloaded file: <path>",
  // then calls paceline's callback, which logs exactly one of REFUSED or ACCEPTED
  const change = async (name: string, act: () => void): Promise<string> => {
    const re = new RegExp(`Reloaded file: .*/config/${name.replace(/\./g, '\\.')}`);
    const before = count(haraka, re);
    const verdicts = count(haraka, VERDICT);
    act();
    await waitForCount(haraka, re, before + 1);
    await waitForCount(haraka, VERDICT, verdicts + 1);
    return (
      haraka
        .log()
        .split('\n')
        .filter((l) => VERDICT.test(l))
        .at(-1) ?? ''
    );
  };
  let source: 's2' | 's3' = 's2';
  for (const c of cases) {
    const broken = await change(c.name, () => fs.writeFileSync(file(c.name), c.broken));
    t.match(broken, REFUSED, `a broken ${c.name} is refused`);
    t.match(broken, c.error, 'with its error');
    const other: 's2' | 's3' = source === 's2' ? 's3' : 's2';
    const kept = await change('paceline.yaml', () => fs.writeFileSync(file('paceline.yaml'), yaml(receiver, other)));
    t.match(kept, REFUSED, `a good paceline.yaml is refused while ${c.name} is broken: ${kept}`);
    await sendFrom(source === 's2' ? '127.0.0.2' : '127.0.0.3', `the running config is kept while ${c.name} is broken`);
    source = other;

    const deleted = await change(c.name, () => fs.rmSync(file(c.name)));
    t.match(deleted, ACCEPTED, `once ${c.name} is deleted, the reload is accepted: ${deleted}`);
    t.match(deleted, new RegExp(`pools default=\\[${source}\\]`), 'with the new paceline.yaml');
    const touched = await change('paceline.ini', () =>
      fs.writeFileSync(file('paceline.ini'), `${INI}; touched ${c.name}\n`),
    );
    t.match(touched, ACCEPTED, `and so is every later reload (paceline.ini touched): ${touched}`);
    await sendFrom(source === 's3' ? '127.0.0.3' : '127.0.0.2', `the reloaded config's pool (${source})`);
  }
});
