import t from 'tap';
import { buildConfig } from '../../lib/config/load';
import { laneLimits } from '../../lib/config/lane-limits';
import { DAY_MS, dayNumber } from '../../lib/core/day';
import { emptyLane } from '../../lib/core/lane-state';
import { acquire } from '../../lib/core/lane';
import { scheduleOf, warmLaneView } from '../../lib/engine/warmup-limits';
import { formatRate } from '../../lib/core/rate';
import { startRecord } from '../../lib/core/warmup';
import { statusRows, statusTable } from '../../lib/engine/status-rows';

const yaml = {
  sources: {
    a: { address: '127.0.0.2' },
    bulk1: { address: '127.0.0.3' },
    warm: { address: '127.0.0.4', warmup: 'ramp' },
  },
  pools: {
    default: { sources: ['a', 'warm'] },
    bulk: { sources: ['bulk1'], limits: { '*': { concurrency: 1, per_day: 500 } } },
  },
  providers: { partner: { mx: ['mx.partner.test'] } },
  defaults: { limits: { concurrency: 2, rate: '10/s' } },
};
// The start phase (adapt.start) would slow a fresh lane's first slots; these rows test limits, not the start.
const ini = { adapt: { start: '1' } };
const warmup = { schedules: { ramp: { days: [40, 80], progression: 'calendar' } } };
const NOW = 20_400 * DAY_MS + 12 * 3_600_000;

t.test("status shows the limits the engine uses: a bulk-pool source's pool limits", async (t) => {
  const config = buildConfig(ini, yaml, warmup);
  const [row] = statusRows(config, [{ lane: { source: 'bulk1', provider: 'partner' }, state: emptyLane() }], NOW);
  const l = laneLimits(config, 'bulk1', 'partner');
  t.equal(l.concurrency, 1);
  t.equal(l.perDay, 500);
  t.equal(row?.concurrency, 1, "the pool's concurrency, not the default pool's");
  t.equal(row?.perDay, 500, "the pool's per_day");
  t.equal(row?.concurrencyNow, 1);
});

t.test("a warming lane: today's cap, the spread rate, and the next slot from the spread", async (t) => {
  const config = buildConfig(ini, yaml, warmup);
  const today = dayNumber(NOW, 0);
  const record = startRecord(today, today);
  const lane = { source: 'warm', provider: 'partner' };
  const base = laneLimits(config, 'warm', 'partner');
  t.equal(base.perDay, undefined, 'no configured per_day: only the warm-up caps it');
  const [fresh] = statusRows(config, [{ lane, state: emptyLane() }], NOW, new Map([['warm|partner', record]]));
  t.equal(fresh?.perDay, 40, "day 1's cap");
  t.equal(fresh?.rate, '40/day,burst=2', 'the cap spread over the day');
  t.same(fresh?.warmup, { schedule: 'ramp', progression: 'calendar', day: 1, cap: 40 });
  t.equal(fresh?.nextFreeS, 0, 'a fresh lane is free now');
  // Take the spread's burst: the next slot is one spread interval (36 min) away.
  let state = emptyLane();
  const source = config.sources.get('warm');
  const schedule = scheduleOf(config, source);
  if (!source || !schedule) throw new Error('the warming source and its schedule');
  const { limits } = warmLaneView(config, source, schedule, 'partner', NOW, record);
  t.equal(limits.perDay, 40, "the engine's view has the same cap");
  for (let i = 0; i < 2; i++) {
    const r = acquire(state, limits, NOW, { mode: 'now', leaseId: `l${i}`, leaseMs: 60_000 });
    t.equal(r.result.kind, 'granted');
    state = r.state;
  }
  const [busy] = statusRows(config, [{ lane, state }], NOW, new Map([['warm|partner', record]]));
  t.ok(
    busy && busy.nextFreeS > 30 * 60 && busy.nextFreeS <= 36 * 60,
    `next free in about 36 min, got ${busy?.nextFreeS}s`,
  );
  t.equal(busy?.sentToday, 2);
  t.equal(busy?.inFlight, 2);
});

t.test('the table shows concurrency in force against the configured one when they differ', async (t) => {
  const config = buildConfig(ini, yaml, warmup);
  const state = { ...emptyLane(), connCap: 1, connCapUntil: NOW + 60_000 };
  const rows = statusRows(config, [{ lane: { source: 'a', provider: 'partner' }, state }], NOW);
  t.equal(rows[0]?.concurrency, 2);
  t.equal(rows[0]?.concurrencyNow, 1);
  const table = statusTable(rows);
  t.match(table[1], /\b1 of 2\b/);
  t.equal(formatRate(laneLimits(config, 'a', 'partner').rate!), '10/s');
});
