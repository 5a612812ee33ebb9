/**
 * Who may choose a pool by header, on a real Haraka: a relaying client
 * without AUTH cannot take another pool's sources by default, an
 * authenticated one can, and a hostile header value reaches the log as one
 * bounded, escaped line.
 */
import net from 'node:net';
import t from 'tap';
import { createTransport } from 'nodemailer';
import { startHaraka, type HarakaProcess } from '../helpers/haraka';
import { startReceiver, type Receiver } from '../helpers/receiver';
import { sendMail } from '../helpers/client';

function yaml(rx: Receiver): string {
  return `
sources:
  s2: { address: 127.0.0.2, helo: s2.paceline.test }
  s3: { address: 127.0.0.3, helo: s3.paceline.test }
pools:
  default: { sources: [s2] }
  transactional: { sources: [s3] }
providers:
  partner: { mx: [mx.partner.test], limits: { rate: unlimited, concurrency: unlimited } }
static_mx:
  partner.test:
    - { host: mx.partner.test, address: 127.0.0.1, port: ${rx.port} }
`;
}

/** One message over a raw SMTP session (bytes as given: NUL, ESC, folded 10 KB headers). */
function rawSmtp(port: number, data: string): Promise<string[]> {
  const commands = ['EHLO raw.client.test', 'MAIL FROM:<raw@paceline.test>', 'RCPT TO:<raw@partner.test>', 'DATA'];
  return new Promise((resolve, reject) => {
    const replies: string[] = [];
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(15_000, () => socket.destroy(new Error(`raw SMTP timed out after ${replies.join(' | ')}`)));
    let buffer = '';
    let step = 0;
    socket.on('data', (chunk) => {
      buffer += chunk.toString('latin1');
      let end: number;
      while ((end = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (line[3] === '-') continue; // a multi-line reply goes on
        replies.push(line);
        if (!/^[23]/.test(line)) return socket.destroy(new Error(`raw SMTP refused: ${replies.join(' | ')}`));
        if (step < commands.length) socket.write(`${commands[step++]}\r\n`);
        else if (step === commands.length) {
          step++;
          socket.write(`${data}\r\n.\r\n`, 'latin1');
        } else {
          socket.end('QUIT\r\n');
          return resolve(replies);
        }
      }
    });
    socket.on('error', reject);
  });
}

t.test('the pool header is honoured only where the operator allows it', async (t) => {
  const rx = await startReceiver();
  t.teardown(() => rx.close());
  const haraka: HarakaProcess = await startHaraka({
    name: 'pool-header',
    plugins: ['test_relay', 'auth/flat_file', 'paceline'],
    files: {
      'config/paceline.yaml': yaml(rx),
      'config/auth_flat_file.ini': '[core]\nmethods=PLAIN,LOGIN\n[users]\nalice=secret-of-alice\n',
      'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*30\nenable_tls=false\nlocal_mx_ok=true\n',
    },
  });
  t.teardown(() => haraka.stop());
  await haraka.waitForLog(/paceline ready/, 10_000);

  // a relaying client without AUTH names the warm pool: ignored (default settings)
  const header = { 'X-Paceline-Pool': 'transactional' };
  for (let i = 0; i < 3; i++)
    await sendMail(haraka.port, {
      from: 'open@paceline.test',
      to: [`o${i}@partner.test`],
      messageId: `<open-${i}@paceline.test>`,
      headers: header,
    });
  // an authenticated client names it: honoured
  const auth = createTransport({
    host: '127.0.0.1',
    port: haraka.port,
    secure: false,
    ignoreTLS: true,
    name: 'client.test',
    auth: { user: 'alice', pass: 'secret-of-alice' },
  });
  t.teardown(() => auth.close());
  for (let i = 0; i < 3; i++) {
    await auth.sendMail({
      envelope: { from: 'alice@paceline.test', to: [`a${i}@partner.test`] },
      from: 'alice@paceline.test',
      to: `a${i}@partner.test`,
      messageId: `<auth-${i}@paceline.test>`,
      subject: 'auth',
      text: 'auth\n',
      headers: header,
    });
  }
  // a 10 KB header value with NUL and ESC, folded over lines Haraka accepts
  const chunks = Array.from(
    { length: 12 },
    (_, i) => `${'\u0000\u001b[31m'.repeat(4)}${String.fromCharCode(97 + i).repeat(860)}`,
  );
  const hostile = chunks.join('\r\n\t');
  const data = [
    `X-Paceline-Pool: ${hostile}`,
    'From: raw@paceline.test',
    'To: raw@partner.test',
    'Message-ID: <raw-1@paceline.test>',
    'Subject: raw',
    '',
    'raw body',
  ].join('\r\n');
  t.ok(data.length > 10_240, `the hostile header is ${hostile.length} chars`);
  await rawSmtp(haraka.port, data);

  await rx.waitFor(7, 60_000);
  await new Promise((r) => setTimeout(r, 1500)); // anything duplicated would arrive now
  const from = (prefix: string) =>
    rx.deliveries.filter((d) => d.messageId.startsWith(prefix)).map((d) => d.remoteAddress);
  t.same(from('<open-'), ['127.0.0.2', '127.0.0.2', '127.0.0.2'], "without AUTH: the default pool's source");
  t.same(from('<auth-'), ['127.0.0.3', '127.0.0.3', '127.0.0.3'], 'with AUTH: the pool the header names');
  t.same(from('<raw-'), ['127.0.0.2'], 'the hostile header: the default pool');
  t.equal(rx.deliveries.length, 7, 'each message once');
  t.ok(
    rx.deliveries.every((d) => d.headers['x-paceline-pool'] === undefined),
    'the header never leaves the server',
  );

  const log = haraka.log();
  const refused = log
    .split('\n')
    .filter((l) => /pool "transactional" may not be chosen by an unauthenticated client/.test(l));
  t.equal(refused.length, 3, 'one warning per message whose header was ignored');
  t.match(refused[0], /using the default pool "default"/);
  const unknown = log.split('\n').filter((l) => /X-Paceline-Pool names an unknown pool/.test(l));
  t.equal(unknown.length, 1, 'the hostile header: one warning');
  const line = unknown[0] as string;
  t.ok(line.length < 400, `that log line is ${line.length} chars for a ${hostile.length}-char value`);
  t.match(line, /unknown pool "\\x00\\x1b\[31m\\x00\\x1b\[31m.*…\[\d+ more chars\]"/, 'escaped and cut');
  t.notOk(/[\u0000\u001b]/.test(log), "no NUL or ESC anywhere in Haraka's log");
  const longest = Math.max(
    ...log
      .split('\n')
      .filter((l) => /paceline/.test(l))
      .map((l) => l.length),
  );
  t.ok(longest < 1200, `longest paceline log line: ${longest} chars`);
});
