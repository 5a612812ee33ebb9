/** 45 simulated days of warm-up through the real engine on the memory store. */
import t from 'tap';
import { MemoryStore } from '../../lib/store/memory';
import { simulateWarmup } from '../helpers/warmup-sim';
import { DAY_MS } from '../../lib/core/day';

const RAMP = Array.from({ length: 30 }, (_, i) => Math.round(8 * 1.12 ** i)); // 8 ... ~214 a day, warm after day 30
const yaml = (progression: string) => ({
  sources: {
    warm: { address: '127.0.0.2' },
    fresh: { address: '127.0.0.3', warmup: { schedule: 'ramp', start: '2026-01-05' } },
  },
  providers: { google: { limits: { rate: 'unlimited', concurrency: 'unlimited' } } },
  static_mx: { 'gmail.test': [{ host: 'gmail-smtp-in.l.google.com', address: '192.0.2.1' }] },
  _p: progression,
});
const warmup = (progression: string) => ({
  schedules: { ramp: { progression, days: RAMP, min_usage: 0.8, max_throttle_ratio: 0.05, step_back_after: 2 } },
});
const clean = (y: ReturnType<typeof yaml>) => {
  const { _p, ...rest } = y;
  void _p;
  return rest;
};

t.test(
  'calendar: each day the new source carries its cap, spread through the day; the warm one the rest',
  async (t) => {
    const r = await simulateWarmup((clock) => new MemoryStore(clock), {
      yaml: clean(yaml('calendar')),
      warmup: warmup('calendar'),
      days: 45,
      everyMinutes: 4,
      domain: 'gmail.test',
    });
    t.equal(r.delivered, r.arrived, 'every message delivered');
    t.equal(r.pending, 0);
    let exact = 0;
    for (let day = 1; day <= 45; day++) {
      const row = r.sent[day - 1] ?? {};
      const cap = RAMP[day - 1];
      const fresh = row.fresh ?? 0;
      if (cap !== undefined) {
        if (fresh > cap) t.fail(`day ${day}: fresh sent ${fresh} > cap ${cap}`);
        if (fresh === cap) exact++;
      }
    }
    t.equal(exact, 30, 'fresh carried exactly its cap on every ramp day');
    t.ok((r.sent[35]?.fresh ?? 0) > 150, `after the ramp it is warm and shares freely (day 36: ${r.sent[35]?.fresh})`);
    const total = r.sent.reduce((n, row) => n + (row.warm ?? 0) + (row.fresh ?? 0), 0);
    t.equal(total, r.arrived, 'the rest went to the warm source');
    // spread: on day 10 (cap 25) no 2-hour window holds more than 2 h worth of the cap plus the burst
    const d10 = (r.times.fresh ?? []).filter((x) => x >= 9 * DAY_MS && x < 10 * DAY_MS).sort((a, b) => a - b);
    const cap10 = RAMP[9] as number;
    let worst = 0;
    for (let i = 0, j = 0; i < d10.length; i++) {
      while (j < d10.length && (d10[j] as number) < (d10[i] as number) + 7_200_000) j++;
      worst = Math.max(worst, j - i);
    }
    t.ok(
      worst <= Math.ceil((cap10 * 2) / 24) + 1,
      `day 10 spread: at most ${Math.ceil((cap10 * 2) / 24) + 1} in any 2 h (saw ${worst})`,
    );
  },
);

t.test('earned: holds on bad days and steps back, never exceeding the cap', async (t) => {
  const badDays = new Set([6, 7, 8]);
  const r = await simulateWarmup((clock) => new MemoryStore(clock), {
    yaml: clean(yaml('earned')),
    warmup: warmup('earned'),
    days: 20,
    everyMinutes: 4,
    domain: 'gmail.test',
    badDays,
    badSource: 'fresh',
  });
  t.equal(r.delivered, r.arrived);
  const fresh = (day: number) => r.sent[day - 1]?.fresh ?? 0;
  t.same([1, 2, 3, 4, 5].map(fresh), RAMP.slice(0, 5), 'good days advance one step a day');
  t.ok(
    fresh(6) <= (RAMP[5] as number),
    `day 6 (every delivery answered 451) stays within its cap (${fresh(6)} ≤ ${RAMP[5]})`,
  );
  t.ok(fresh(7) <= (RAMP[5] as number), `after a bad day 6 it holds (day 7: ${fresh(7)} ≤ ${RAMP[5]})`);
  t.ok(fresh(9) < (RAMP[5] as number), `after two more bad days it stepped back (day 9: ${fresh(9)} < ${RAMP[5]})`);
});

t.test('overflow = delay: a lone warming source holds the surplus for the next day, loses nothing', async (t) => {
  const r = await simulateWarmup((clock) => new MemoryStore(clock), {
    yaml: {
      sources: { fresh: { address: '127.0.0.3', warmup: { schedule: 'ramp', start: '2026-01-05' } } },
      pools: { default: { sources: ['fresh'], overflow: 'delay' } },
      providers: { google: { limits: { rate: 'unlimited', concurrency: 'unlimited' } } },
      static_mx: { 'gmail.test': [{ host: 'gmail-smtp-in.l.google.com', address: '192.0.2.1' }] },
    },
    warmup: { schedules: { ramp: { progression: 'calendar', days: [10, 20, 40] } } },
    days: 1,
    everyMinutes: 60,
    domain: 'gmail.test',
  });
  t.equal(r.arrived, 24);
  t.equal(r.sent[0]?.fresh, 10, 'day 1: its cap');
  t.equal(r.sent[1]?.fresh, 14, 'day 2: the surplus');
  t.equal(r.delivered, 24, 'nothing lost');
});
