import t from 'tap';
import { capFor, evaluate, scheduleDay, spreadRate, startRecord, type Schedule } from '../../lib/core/warmup';
import { buildConfig } from '../../lib/config/load';
import { ConfigError, formatIssue } from '../../lib/config/errors';

const base: Schedule = {
  name: 's',
  days: [10, 20, 40],
  providers: new Map([['microsoft365', [5, 10]]]),
  progression: 'earned',
  minUsage: 0.8,
  maxThrottleRatio: 0.1,
  stepBackAfter: 2,
  rewarmAfterDays: 30,
  rewarmFromDay: 2,
};
const D = 20_000;

t.test('caps per provider and day; past the ramp the source is warm', async (t) => {
  t.equal(capFor(base, 'google', 1), 10);
  t.equal(capFor(base, 'google', 3), 40);
  t.equal(capFor(base, 'google', 4), undefined);
  t.equal(capFor(base, 'microsoft365', 2), 10);
  t.equal(capFor(base, 'microsoft365', 3), undefined);
});

t.test('calendar: day N on the Nth day since the start', async (t) => {
  const cal = { ...base, progression: 'calendar' as const };
  const r = startRecord(D, D);
  t.equal(scheduleDay(cal, r, D), 1);
  t.equal(
    scheduleDay(cal, evaluate(cal, 'google', r, { day: 0, count: 0, throttles: 0, lastActive: 0 }, D + 2), D + 2),
    3,
  );
  t.equal(scheduleDay(cal, startRecord(D - 5, D), D), 6, 'a start date in the past');
});

t.test('earned: advance on a good day, hold on a light one, step back after bad days', async (t) => {
  const table: Array<[string, number, number, number, number]> = [
    // name, step before, yesterday count, yesterday throttles, step after
    ['good day advances', 2, 18, 0, 3],
    ['light day holds', 2, 10, 0, 2],
    ['one bad day holds', 2, 20, 5, 2],
  ];
  for (const [name, step, count, throttles, want] of table) {
    const r = { start: D - 5, step, evaluated: D - 1, badDays: 0 };
    const next = evaluate(base, 'google', r, { day: D - 1, count, throttles, lastActive: D - 1 }, D);
    t.equal(next.step, want, name);
  }
  const bad1 = evaluate(
    base,
    'google',
    { start: D - 5, step: 3, evaluated: D - 1, badDays: 1 },
    { day: D - 1, count: 40, throttles: 10, lastActive: D - 1 },
    D,
  );
  t.same([bad1.step, bad1.badDays], [2, 0], 'second bad day in a row steps back');
  const same = evaluate(base, 'google', bad1, { day: D - 1, count: 40, throttles: 0, lastActive: D - 1 }, D);
  t.equal(same, bad1, 'evaluated once a day');
});

t.test('re-warm after a long idle spell', async (t) => {
  const r = { start: D - 100, step: 3, evaluated: D - 40, badDays: 0 };
  const next = evaluate(base, 'google', r, { day: D - 35, count: 40, throttles: 0, lastActive: D - 35 }, D);
  t.same(next, { start: D - 1, step: 2, evaluated: D, badDays: 0 });
  t.equal(scheduleDay({ ...base, progression: 'calendar' }, next, D), 2);
});

t.test('frozen: the same schedule day whatever the days bring, until thawed', async (t) => {
  const cal = { ...base, progression: 'calendar' as const };
  const frozen = { start: D - 2, step: 3, evaluated: D, badDays: 0, frozen: 1 as const };
  const later = evaluate(cal, 'google', frozen, { day: 0, count: 0, throttles: 0, lastActive: 0 }, D + 4);
  t.equal(scheduleDay(cal, later, D + 4), 3, 'calendar: still day 3 four days later');
  t.equal(later.frozen, 1, 'still frozen');
  const good = evaluate(base, 'google', frozen, { day: D, count: 1000, throttles: 0, lastActive: D }, D + 1);
  t.equal(good.step, 3, 'earned: a good day does not move it on');
  const idle = evaluate(base, 'google', frozen, { day: D - 40, count: 40, throttles: 0, lastActive: D - 40 }, D + 1);
  t.equal(idle.step, 3, 'no re-warm while frozen');
  const thawed = evaluate(
    cal,
    'google',
    { ...later, frozen: undefined },
    { day: 0, count: 0, throttles: 0, lastActive: 0 },
    D + 5,
  );
  t.equal(scheduleDay(cal, thawed, D + 5), 4, 'thawed: days count again');
});

t.test('the day is spread as a rate with a small burst', async (t) => {
  t.same(spreadRate(2400, 86_400_000), { count: 2400, periodMs: 86_400_000, burst: 10 });
  t.same(spreadRate(50, 43_200_000), { count: 50, periodMs: 43_200_000, burst: 2 });
  t.same(
    spreadRate(2400, 86_400_000, 60),
    { count: 60, periodMs: 3_600_000, burst: 10 },
    'an hourly cap tighter than the spread wins',
  );
});

function problems(warmup: unknown, yaml: unknown = {}): string[] {
  try {
    buildConfig({}, yaml, warmup);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.map(formatIssue);
  }
}

t.test('schedule files are validated precisely', async (t) => {
  t.same(
    problems({
      schedules: {
        ok: { days: [1, 2, 3], providers: { google: [1, 1] }, progression: 'earned', active_hours: '08:00-20:00' },
      },
    }),
    [],
  );
  const got = problems({
    schedules: {
      a: { days: [10, 5, 20] },
      b: { days: [], progression: 'fast', colour: 1 },
      c: { days: [1], providers: { gmail: [1] }, min_usage: 2, active_hours: '20:00-08:00' },
      d: { days: [10, 5], allow_decrease: true },
    },
  });
  const want = [
    /paceline-warmup\.yaml: schedules\.a\.days\[1\]: got 5, expected at least day 1's 10 \(days must not decrease unless allow_decrease: true\)/,
    /schedules\.b\.days: got \[\], expected a non-empty list/,
    /schedules\.b\.progression: got "fast", expected "calendar" or "earned"/,
    /schedules\.b\.colour: got 1, expected no such key/,
    /schedules\.c\.providers\.gmail: got \[1\], expected a known provider/,
    /schedules\.c\.min_usage: got 2, expected a share/,
    /schedules\.c\.active_hours: got "20:00-08:00", expected a local time window/,
  ];
  for (const re of want)
    t.ok(
      got.some((l) => re.test(l)),
      `reports ${re}`,
    );
  t.equal(got.length, want.length, got.join('\n'));
  t.match(problems({ schedules: {} }, { sources: { a: { address: '127.0.0.2', warmup: 'nope' } } }), [
    /sources\.a\.warmup\.schedule: got "nope", expected a schedule in paceline-warmup\.yaml/,
  ]);
  t.match(problems({}, { sources: { a: { address: '127.0.0.2', warmup: { schedule: 'x', start: '2026-02-30' } } } }), [
    /sources\.a\.warmup\.start: got "2026-02-30", expected a date/,
    /warmup\.schedule/,
  ]);
  t.match(
    problems(
      {},
      {
        sources: { a: { address: '127.0.0.2' } },
        pools: { p: { sources: ['a'], overflow: 'spill', overflow_pool: 'p' } },
      },
    ),
    [/default_pool/, /pools\.p\.overflow: got "spill"/, /pools\.p\.overflow_pool: got "p", expected another pool/],
  );
});
