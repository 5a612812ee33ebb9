import t from 'tap';
import { sendMail, sendMany, type MailSpec } from '../helpers/client';
import { startHaraka, type HarakaProcess } from '../helpers/haraka';
import { startReceiver, type Receiver, type ReceiverOptions } from '../helpers/receiver';

/** Polls `cond` every 100 ms until true; rejects with `what` after timeoutMs. */
async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Receiver + baseline Haraka (test_relay, test_mx → receiver), both torn down with the test. */
async function setup(t: tap.Test, reply?: ReceiverOptions['reply']): Promise<{ rx: Receiver; haraka: HarakaProcess }> {
  const rx = await startReceiver(reply ? { reply } : {});
  t.teardown(() => rx.close());
  const haraka = await startHaraka({
    name: 'harness',
    plugins: ['test_relay', 'test_mx'],
    files: { 'config/test_mx.ini': `[main]\nhost=127.0.0.1\nport=${rx.port}\n` },
  });
  t.teardown(() => haraka.stop());
  return { rx, haraka };
}

function countById(rx: Receiver): Map<string, number> {
  const counts = new Map<string, number>();
  for (const d of rx.deliveries) counts.set(d.messageId, (counts.get(d.messageId) ?? 0) + 1);
  return counts;
}

t.test('baseline Haraka delivers every message exactly once to the receiver', async (t) => {
  const { rx, haraka } = await setup(t);
  const msgs: MailSpec[] = [1, 2, 3, 4, 5].map((i) => ({
    from: 'sender@sender.test',
    to: [`user${i}@example.test`],
    messageId: `<harness-${i}-${Date.now()}@client.test>`,
    subject: `harness ${i}`,
  }));
  await sendMany(haraka.port, msgs);
  await rx.waitFor(5, 20_000);
  await until(() => haraka.queueFiles().length === 0, 10_000, 'the Haraka queue to drain');

  const counts = countById(rx);
  t.equal(rx.deliveries.length, 5, 'five deliveries, no duplicates');
  for (const m of msgs) t.equal(counts.get(m.messageId), 1, `${m.messageId} arrived once`);
  for (const d of rx.deliveries) {
    t.equal(d.remoteAddress, '127.0.0.1', 'delivered from 127.0.0.1');
    t.equal(d.helo, 'haraka.test', 'EHLO name is config/me');
    t.equal(d.mailFrom, 'sender@sender.test');
    t.equal(d.rcptTo.length, 1);
    t.match(d.headers.subject, /^harness \d$/, 'headers parsed');
    t.ok(d.size > 0 && d.receivedAt > 0);
  }
  t.same(new Set(rx.deliveries.map((d) => d.rcptTo[0])), new Set(msgs.map((m) => m.to[0])), 'all recipients');
  t.same(rx.rejections, [], 'nothing rejected');
  await haraka.waitForLog(/delivered file=/, 5_000);
});

t.test('a 451 at RCPT makes Haraka retry; the message arrives once', async (t) => {
  const busy = '4.7.500 Server busy. Please try again later from [127.0.0.1]';
  let refused = 0;
  const { rx, haraka } = await setup(t, (ctx) => {
    if (ctx.stage !== 'rcpt' || ctx.rcptTo.at(-1) !== 'retry@example.test' || refused > 0) return null;
    refused++;
    return { code: 451, message: busy };
  });
  const messageId = `<harness-retry-${Date.now()}@client.test>`;
  await sendMail(haraka.port, { from: 'sender@sender.test', to: ['retry@example.test'], messageId });
  await rx.waitFor(1, 30_000);
  await until(() => haraka.queueFiles().length === 0, 10_000, 'the Haraka queue to drain');

  t.equal(rx.deliveries.length, 1, 'delivered once');
  t.equal(rx.deliveries[0]?.messageId, messageId);
  t.equal(rx.rejections.length, 1, 'one rejection recorded');
  t.match(rx.rejections[0], { stage: 'rcpt', remoteAddress: '127.0.0.1', code: 451, message: busy });
  const first = rx.rejections[0]?.at ?? 0;
  t.ok((rx.deliveries[0]?.receivedAt ?? 0) - first >= 4_000, 'retried after the 5 s temp_fail interval');
  await haraka.waitForLog(/4\.7\.500 Server busy/, 1_000);
});
