/**
 * `npm run bench`: every benchmark, each printing its figures and its ratio
 * to a baseline measured in the same run (this machine is shared and noisy).
 * Figures are printed, not asserted. `npm run bench -- --e2e [options]` runs
 * only the end-to-end pacing benchmark instead (bench/e2e.ts).
 */
import { benchDecide } from './decide';
import { benchHaraka } from './haraka';

function line(label: string, value: string): void {
  console.log(`${label.padEnd(52)} ${value}`);
}

async function main(): Promise<void> {
  if (process.argv.includes('--e2e')) {
    // the end-to-end pacing benchmark runs alone: it takes minutes per scenario
    const e2e = await import('./e2e');
    await e2e.main(process.argv.slice(2));
    return;
  }
  console.log('paceline benchmarks (printed, not asserted)\n');
  const d = await benchDecide();
  line('decisions/s, engine + memory store (1 core)', d.perSecond.toFixed(0));
  line('baseline: awaited no-op calls/s', d.baselinePerSecond.toFixed(0));
  line('decision cost ÷ no-op cost', (d.baselinePerSecond / d.perSecond).toFixed(1));
  line('target ≥ 100,000 decisions/s', d.perSecond >= 100_000 ? 'met' : 'NOT met');
  console.log('');
  const h = await benchHaraka();
  line(`Haraka without paceline, msgs/s (${h.messages} msgs)`, h.without.toFixed(1));
  line('Haraka with paceline (limits not binding), msgs/s', h.with.toFixed(1));
  line('ratio with ÷ without (target ≥ 0.90)', (h.with / h.without).toFixed(3));
  if (process.argv.includes('--redis') || process.env.PACELINE_BENCH_REDIS) {
    const redis = (await import('./redis')) as { main?: () => Promise<void> };
    if (redis.main) await redis.main();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
