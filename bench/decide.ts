/**
 * In-process decision rate of the engine + memory store, limits not binding,
 * against a baseline measured in the same run: the same loop awaiting a
 * no-op async function (what any async hook costs at least).
 */
import { rig } from '../test/helpers/fakes';
import type { Ticket } from '../lib/engine/engine';

const YAML = {
  sources: { a: { address: '127.0.0.2' }, b: { address: '127.0.0.3' }, c: { address: '127.0.0.4' } },
  pools: { default: { sources: ['a', 'b', 'c'] } },
  providers: {
    google: { limits: { rate: 'unlimited', concurrency: 'unlimited' } },
    microsoft365: { limits: { rate: 'unlimited', concurrency: 'unlimited' } },
  },
};
const DOMAINS = ['gmail.test', 'contoso.test', 'fabrikam.test', 'small.test'];

async function timeLoop(n: number, body: (i: number) => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await body(i);
  return Number(process.hrtime.bigint() - start) / 1e9;
}

export async function benchDecide(n = 200_000): Promise<{ perSecond: number; baselinePerSecond: number }> {
  const r = rig(YAML);
  const noop = async (): Promise<number> => 1;
  const decideAndFinish = async (i: number) => {
    const ticket: Ticket = {};
    r.clock.advance(1);
    await r.engine.decide(
      { id: String(i), domain: DOMAINS[i % DOMAINS.length] as string, queueTime: r.clock.t },
      ticket,
    );
    await r.engine.outcome(ticket, { delivered: true });
  };
  await timeLoop(20_000, decideAndFinish); // warm up the JIT and the MX cache
  await timeLoop(20_000, noop);
  const baseline = await timeLoop(n, noop);
  const seconds = await timeLoop(n, decideAndFinish);
  return { perSecond: n / seconds, baselinePerSecond: n / baseline };
}

if (require.main === module) {
  benchDecide().then((r) => console.log(JSON.stringify(r)));
}
