import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import t from 'tap';
import { main } from '../../lib/cli/main';

interface Captured {
  out: string[];
  err: string[];
  code: number;
}

async function run(args: string[], input: Readable): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) }, input);
  return { out, err, code };
}

const MS_LINES = [
  'Upstream error: 451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (AS843) [BN8NAM11FT066.eop-nam11.prod.protection.outlook.com]',
  '',
  '550 5.7.606 Access denied, banned sending IP [192.0.2.1].',
  '550 5.1.1 <someone@example.com>: unknown',
].join('\r\n');

t.test("--json prints one object per non-empty line, with the MX host's provider", async (t) => {
  const got = await run(['classify', '--mx', 'x.mail.protection.outlook.com', '--json'], Readable.from([MS_LINES]));
  t.equal(got.code, 0);
  t.same(got.err, []);
  const objects = got.out.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.equal(objects.length, 3, 'the empty line is skipped');
  t.match(objects[0], {
    provider: 'microsoft365',
    category: 'throttle',
    rule: 'microsoft-as-throttling',
    code: 451,
    enhanced: '4.7.500',
  });
  t.match(objects[0]?.reply, /^Upstream error: 451 4\.7\.500 Server busy/);
  t.equal(objects[0]?.reaction, 'slow the lane to the pace the provider accepted and pause briefly');
  t.match(objects[1], { provider: 'microsoft365', category: 'blocked', rule: 'microsoft-banned-ip' });
  t.match(objects[1]?.reaction, /operator/);
  t.match(objects[2], { provider: 'microsoft365', category: 'recipient', rule: 'rfc3463-address' });
  for (const o of objects) t.same(Object.keys(o).slice(0, 5), ['reply', 'provider', 'category', 'rule', 'reaction']);
});

t.test('plain output: category, provider, rule, reaction separated by tabs', async (t) => {
  const input = Readable.from([
    '421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred\n',
    '250 2.0.0 OK\n',
    '451 4.7.1 no idea\n',
  ]);
  const got = await run(['classify', '--mx', 'mta5.am0.yahoodns.net'], input);
  t.equal(got.code, 0);
  t.same(
    got.out.map((l) => l.split('\t').slice(0, 3)),
    [
      ['suspend', 'yahoo', 'yahoo-tss04'],
      ['unknown', 'yahoo', '-'],
      ['unknown', 'yahoo', '-'],
    ],
  );
  t.match(got.out[0], /stop the lane .*; for 2h$/);
  t.match(got.out[2], /4xx, retried as transient/);
  const none = await run(
    ['classify'],
    Readable.from(['550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org\n']),
  );
  t.same(none.out[0]?.split('\t').slice(0, 2), ['blocked', 'dnsbl-named'], 'no provider column without --mx');
  const unknownMx = await run(
    ['classify', '--mx', 'mx.example.org', '--json'],
    Readable.from(['421 try again later\n']),
  );
  t.match(JSON.parse(unknownMx.out[0] ?? '{}'), { provider: 'mx:mx.example.org', category: 'transient' });
});

t.test('literal \\n in a line is a line break, as Exim logs write replies', async (t) => {
  const line =
    '421-4.7.0 [192.0.2.1 15] Our system has detected an unusual rate of\\n421-4.7.0 unsolicited mail originating from your IP address.\\n421 4.7.0 rate limited.\n';
  const got = await run(['classify', '--mx', 'aspmx.l.google.com', '--json'], Readable.from([line]));
  t.match(JSON.parse(got.out[0] ?? '{}'), { provider: 'google', category: 'throttle', rule: 'google-unusual-rate' });
});

t.test('huge lines and binary junk do not crash it', async (t) => {
  const junk = Buffer.alloc(200_000);
  let seed = 7;
  for (let i = 0; i < junk.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    junk[i] = seed % 256;
  }
  const input = new PassThrough();
  const done = run(['classify', '--json'], input);
  input.write(`451 4.7.500 ${'x'.repeat(1_000_000)}\n`);
  input.write(junk);
  input.end('\n\u0000\r\n\r\n');
  const got = await done;
  t.equal(got.code, 0);
  t.ok(got.out.length >= 2);
  for (const l of got.out) {
    const o = JSON.parse(l) as { reply: string; category: string };
    t.ok(o.reply.length <= 4096 && typeof o.category === 'string');
  }
});

t.test('usage errors exit 2; a broken local rules file exits 1 with its problems', async (t) => {
  const bad = await run(['classify', '--mx'], Readable.from([]));
  t.equal(bad.code, 2);
  t.match(bad.err[0], /--mx needs a value/);
  t.equal((await run(['classify', '--colour'], Readable.from([]))).code, 2);

  /** A Haraka dir with these config files (haraka-config caches files by path, so one dir per case). */
  const harakaDir = (files: Record<string, string>): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-classify-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.mkdirSync(path.join(dir, 'config'));
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, 'config', name), text);
    return dir;
  };
  const good = harakaDir({
    'paceline-replies.yaml':
      'local_rules:\n  - name: mine\n    provider: partner\n    text: slow down\n    category: throttle\n',
    'paceline.yaml': 'providers:\n  partner:\n    mx: [mx.partner.test]\n',
  });
  const ok = await run(
    ['classify', '--config', good, '--mx', 'mx1.mx.partner.test', '--json'],
    Readable.from(['421 please slow down\n', '421 4.7.0 [TSS04] x\n']),
  );
  t.equal(ok.code, 0, ok.err.join('\n'));
  t.match(JSON.parse(ok.out[0] ?? '{}'), { provider: 'partner', category: 'throttle', rule: 'mine' });
  t.match(
    JSON.parse(ok.out[1] ?? '{}'),
    { category: 'unknown' },
    'shipped rules still there, Yahoo rule not for partner',
  );

  const bad2 = harakaDir({
    'paceline-replies.yaml':
      'local_rules:\n  - name: mine\n    provider: nobody\n    text: "("\n    category: throttle\n',
  });
  const broken = await run(['classify', '--config', bad2], Readable.from(['421 x\n']));
  t.equal(broken.code, 1);
  t.match(broken.err.join('\n'), /local_rules\[0\]\.text: got "\(", expected a valid JavaScript regular expression/);
  t.match(broken.err.join('\n'), /local_rules\[0\]\.provider: got "nobody"/);
});
