import t from 'tap';
import { formatDurationMs, parseDurationMs } from '../../lib/core/duration';
import { formatRate, intervalMs, keyIntervalMs, parseRate, type Rate } from '../../lib/core/rate';

t.test('rate strings parse to count, period and burst', async (t) => {
  const table: Array<[string, Rate]> = [
    ['30/min', { count: 30, periodMs: 60_000, burst: 1 }],
    ['30/m', { count: 30, periodMs: 60_000, burst: 1 }],
    ['1000/h,burst=20', { count: 1000, periodMs: 3_600_000, burst: 20 }],
    ['1000/hour, burst = 20', { count: 1000, periodMs: 3_600_000, burst: 20 }],
    ['5/s', { count: 5, periodMs: 1000, burst: 1 }],
    ['5/sec', { count: 5, periodMs: 1000, burst: 1 }],
    ['20000/day', { count: 20000, periodMs: 86_400_000, burst: 1 }],
    ['20000/d', { count: 20000, periodMs: 86_400_000, burst: 1 }],
    [' 7 / minutes ', { count: 7, periodMs: 60_000, burst: 1 }],
  ];
  for (const [text, want] of table) t.same(parseRate(text), want, text);
});

t.test('bad rate strings say what was expected', async (t) => {
  const table: Array<[string, RegExp]> = [
    ['', /a rate like/],
    ['30', /a rate like/],
    ['30/fortnight', /period of s, min, h or day/],
    ['0/min', /≥ 1/],
    ['1.5/min', /a rate like/],
    ['30/min,burst=0', /burst=N/],
    ['30/min,max=3', /only the option burst=N/],
    ['-3/min', /a rate like/],
  ];
  for (const [text, want] of table) {
    const got = parseRate(text);
    t.type(got, 'string', text);
    t.match(got as string, want, text);
  }
});

t.test('format gives the canonical spelling and round-trips', async (t) => {
  const table: Array<[string, string]> = [
    ['30/m', '30/min'],
    ['1000/hour,burst=20', '1000/h,burst=20'],
    ['5/second', '5/s'],
    ['2/days,burst=1', '2/day'],
  ];
  for (const [text, canonical] of table) {
    const rate = parseRate(text) as Rate;
    t.equal(formatRate(rate), canonical, text);
    t.same(parseRate(formatRate(rate)), rate, `${text} round-trips`);
    t.equal(
      keyIntervalMs(canonical),
      intervalMs(rate),
      `${canonical}: the interval read back from the key (a changed rate rescales by it)`,
    );
  }
  t.equal(
    keyIntervalMs(formatRate({ count: 3, periodMs: 5000, burst: 2 })),
    5000 / 3,
    'an odd period: 3/5000ms,burst=2',
  );
  for (const bad of ['', 'x', '30/fortnight', '30/min;burst=2', '/min'])
    t.equal(keyIntervalMs(bad), undefined, `not a key: "${bad}"`);
});

t.test('interval is period / count', async (t) => {
  t.equal(intervalMs(parseRate('30/min') as Rate), 2000);
  t.equal(intervalMs(parseRate('1000/h') as Rate), 3600);
});

t.test('durations', async (t) => {
  const table: Array<[string | number, number | undefined]> = [
    ['90s', 90_000],
    ['15m', 900_000],
    ['72h', 259_200_000],
    ['3d', 259_200_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['60', 60_000],
    [60, 60_000],
    ['', undefined],
    ['3 weeks', undefined],
    ['h', undefined],
    [-1, undefined],
  ];
  for (const [text, want] of table) t.equal(parseDurationMs(text), want, String(text));
  t.equal(formatDurationMs(5_400_000), '1h30m');
  t.equal(formatDurationMs(0), '0s');
  t.equal(parseDurationMs(formatDurationMs(93_784_005)), 93_784_005);
});
