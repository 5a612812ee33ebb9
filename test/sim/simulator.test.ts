/**
 * The simulator (sim/): deterministic, quick, no message lost or sent twice,
 * figures consistent. Each scenario runs in a child process: tap's async
 * hooks would otherwise double the cost of every engine call.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import t from 'tap';
import type { Figures } from '../../sim/metrics';
import { DEFAULT_HOURS, parseArgs, runAll, type JsonReport } from '../../sim/run';
import { traceLine } from '../../sim/trace';
import { emptyLane } from '../../lib/core/lane-state';

const ROOT = path.resolve(__dirname, '..', '..');
/** A short scenario: 30 simulated minutes. */
const SHORT = ['--seed', '7', '--hours', '0.5'];

function simulate(args: readonly string[]): Promise<{ report: JsonReport; seconds: number }> {
  const started = process.hrtime.bigint();
  // the entry is a CommonJS -e script, so that tap's ESM loader hooks (which it
  // passes on to child processes) never see a .ts entry point
  const script =
    "require('./sim/run.ts').main(process.argv.slice(1)).catch((e) => { console.error(e); process.exit(1); })";
  const argv = ['-r', 'ts-node/register/transpile-only', '-e', script, '--', '--json', ...args];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, argv, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}\n${stderr}`));
      resolve({ report: JSON.parse(stdout) as JsonReport, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
    });
  });
}

function byName(figures: readonly Figures[], name: string): Figures {
  const f = figures.find((x) => x.strategy === name);
  if (!f) throw new Error(`no figures for ${name}`);
  return f;
}

const margin = (p: Figures, none: Figures): string =>
  `paceline ${p.throttlesPer100.toFixed(2)} vs no pacing ${none.throttlesPer100.toFixed(2)} per 100 attempts`;

t.test('the simulator', async (t) => {
  // Issue 9's targets are asserted on the family scenarios (test/sim/family.test.ts), which
  // model sessions; the 12 h scenario's regression test is below.
  const [first, again] = await Promise.all([simulate(SHORT), simulate(SHORT)]);
  const shipped = byName(first.report.figures, 'paceline');
  const none = byName(first.report.figures, 'no pacing');

  t.test('is deterministic: the same seed gives identical figures', async (t) => {
    t.same(again.report, first.report);
  });

  // how long a run takes is a benchmark's business (npm run bench), not a timed test's
  t.comment(`three strategies over 0.5 h took ${first.seconds.toFixed(1)} s (two runs side by side)`);

  t.test('paceline delivers every message exactly once: none lost, none twice', async (t) => {
    for (const [what, p] of [['0.5 h', shipped]] as const) {
      t.equal(p.duplicates, 0, `${what}: no message accepted twice`);
      t.equal(p.lost, 0, `${what}: every message is delivered or still queued`);
      t.same(
        { bounced: p.bounced, expired: p.expired, anomalies: p.anomalies },
        { bounced: 0, expired: 0, anomalies: 0 },
        `${what}: nothing dropped`,
      );
      t.equal(p.delivered + p.queuedAtEnd, p.offered, `${what}: delivered + queued = offered`);
    }
  });

  t.test('paceline as shipped draws far fewer throttle replies than no pacing', async (t) => {
    t.ok(shipped.throttlesPer100 * 5 < none.throttlesPer100, margin(shipped, none));
  });

  t.test('the figures are consistent', async (t) => {
    const { report } = first;
    const capacity = Object.values(report.capacity).reduce((a, b) => a + b, 0);
    t.ok(capacity > 0 && capacity <= report.offered, 'the hidden capacity is positive and the offered load exceeds it');
    for (const f of report.figures) {
      t.equal(f.offered, report.offered, `${f.strategy}: same offered load`);
      t.ok(f.delivered <= f.offered && f.delivered <= f.attempts, `${f.strategy}: delivered ≤ offered and ≤ attempts`);
      t.ok(f.duplicates === 0 && f.lost >= 0 && f.queuedAtEnd >= 0, `${f.strategy}: no duplicates, counts ≥ 0`);
      t.ok(
        f.pctOfCapacity >= 0 && f.pctOfCapacity <= 101,
        `${f.strategy}: % of capacity in range (${f.pctOfCapacity.toFixed(1)})`,
      );
      t.ok(f.throttlesPer100 >= 0 && f.throttlesPer100 <= 100, `${f.strategy}: throttles per 100 attempts in range`);
      t.ok(
        f.meanQueueMin >= 0 && f.meanQueueMin <= f.maxQueueMin && f.maxQueueMin <= report.hours * 60,
        `${f.strategy}: queue times in range`,
      );
      t.ok(
        Math.abs(f.deliveredPerHour * report.hours - f.delivered) < 1e-6,
        `${f.strategy}: per hour × hours = delivered`,
      );
      t.equal(
        f.byProvider.reduce((sum, p) => sum + p.delivered, 0),
        f.delivered,
        `${f.strategy}: providers add up`,
      );
    }
  });
});

/**
 * The 12 h scenario's regression, shortened to 2.5 simulated hours (about
 * 30 s in a child process). Before the fix paceline reached 56 % of the
 * Microsoft-like capacity and 1 % of the Yahoo-like one here (40.6 % and
 * 46.2 % over 12 h): every refusal of the per-minute window, with one or two
 * deliveries in flight, capped the lane's sessions down to one; and the start
 * phase's fallback after Yahoo's 2 h [TSS04] suspension was twice the limit,
 * so the lane was suspended again at once. Now 85 % and 19 % (the first
 * suspension is the 2 h of 2.5 that cannot be helped).
 */
t.test('the 12 h scenario, first 2.5 h: sessions not mistaken, one suspension only', async (t) => {
  const { report } = await simulate(['--seed', '1', '--hours', '2.5', '--only', 'paceline']);
  const p = byName(report.figures, 'paceline');
  const share = (name: string): number => p.byProvider.find((x) => x.provider === name)?.pctOfCapacity ?? 0;
  t.ok(share('microsoft365') >= 75, `microsoft365-like: ${share('microsoft365').toFixed(1)} % of capacity ≥ 75 %`);
  t.ok(share('yahoo') >= 10, `yahoo-like: ${share('yahoo').toFixed(1)} % of capacity ≥ 10 % (one suspension)`);
  t.ok(share('google') >= 75, `google-like: ${share('google').toFixed(1)} % of capacity ≥ 75 %`);
  t.ok(p.throttlesPer100 <= 3, `${p.throttlesPer100.toFixed(2)} throttle replies per 100 attempts ≤ 3`);
  t.equal(p.lost, 0, 'nothing lost');
});

t.test('--trace prints a line per lane and period', async (t) => {
  t.match(parseArgs(['--trace', '10']), { traceMin: 10 });
  t.throws(() => parseArgs(['--trace', '0']), /--trace/);
  const line = traceLine(
    1_200_000,
    0,
    'ip1|yahoo',
    { accepted: 30, refused: 2 },
    { ...emptyLane(), factor: 0.09, known: 0.09, pauseUntil: 1_260_000 },
  );
  t.match(line, /^\s+20 min ip1\|yahoo\s+ok\s+30 ref\s+2\s+factor 0\.0900 known 0\.0900 pause 60s/);
});

t.test('command line flags', async (t) => {
  t.match(parseArgs(['--seed', '42', '--hours', '2', '--adapt', 'decrease=0.7']), {
    seed: 42,
    hours: 2,
    adapt: 'decrease=0.7',
    classifier: 'shipped',
  });
  t.match(parseArgs(['--only', 'paceline,no-pacing', '--json']), {
    seed: 1,
    hours: DEFAULT_HOURS,
    adapt: '',
    only: ['paceline', 'no pacing'],
    json: true,
  });
  t.throws(() => parseArgs(['--hours', '0']), /--hours/);
  t.throws(() => parseArgs(['--seed', 'x']), /--seed/);
  t.throws(() => parseArgs(['--classifier', 'nope']), /--classifier/);
  t.throws(() => parseArgs(['--only', 'fast']), /--only/);
  await t.rejects(
    runAll({ seed: 1, hours: 0.5, adapt: 'decrease=2', only: ['paceline'] }),
    /decrease/,
    'a bad [adapt] value is refused by the real config loader',
  );
});
