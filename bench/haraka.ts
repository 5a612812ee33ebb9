/**
 * Delivery throughput of a real Haraka to a local sink, with paceline (limits
 * not binding) and without it (a plain get_mx plugin), measured in one run,
 * alternating the two setups so that machine noise hits both alike.
 */
import { startHaraka } from '../test/helpers/haraka';
import { startReceiver, type Receiver } from '../test/helpers/receiver';
import { sendMany, type MailSpec } from '../test/helpers/client';

const OUTBOUND = '[main]\ntemp_fail_intervals=5s*30\nenable_tls=false\nlocal_mx_ok=true\nconcurrency_max=100\n';

function yaml(sink: Receiver): string {
  return `
sources:
  a: { address: 127.0.0.2, helo: a.bench.test }
  b: { address: 127.0.0.3, helo: b.bench.test }
defaults:
  limits: { rate: unlimited, concurrency: unlimited }
static_mx:
  bench.test:
    - { host: mx.bench.test, address: 127.0.0.1, port: ${sink.port} }
`;
}

async function run(withPaceline: boolean, messages: number): Promise<number> {
  const sink = await startReceiver();
  const files: Record<string, string> = {
    'config/outbound.ini': OUTBOUND,
    'config/paceline.ini': '[main]\nlog_decisions=false\n',
  };
  if (withPaceline) files['config/paceline.yaml'] = yaml(sink);
  else files['config/test_mx.ini'] = `[main]\nhost=127.0.0.1\nport=${sink.port}\n`;
  const haraka = await startHaraka({
    name: withPaceline ? 'bench-with' : 'bench-without',
    plugins: ['test_relay', withPaceline ? 'paceline' : 'test_mx'],
    files,
  });
  try {
    const msgs: MailSpec[] = Array.from({ length: messages }, (_, i) => ({
      from: 's@bench.test',
      to: [`u${i}@bench.test`],
      messageId: `<b${i}@bench.test>`,
    }));
    const start = Date.now();
    await sendMany(haraka.port, msgs, 20);
    await sink.waitFor(messages, 120_000);
    return messages / ((Date.now() - start) / 1000);
  } finally {
    await haraka.stop();
    await sink.close();
  }
}

export async function benchHaraka(
  messages = 2000,
  rounds = 3,
): Promise<{ with: number; without: number; messages: number }> {
  const withRates: number[] = [];
  const withoutRates: number[] = [];
  for (let i = 0; i < rounds; i++) {
    withoutRates.push(await run(false, messages));
    withRates.push(await run(true, messages));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  return { with: median(withRates), without: median(withoutRates), messages };
}
