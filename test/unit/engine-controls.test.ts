/**
 * The engine and operator pauses (fake clock, memory store): which pause
 * holds a lane, how long a held message waits, that the pause never bounces
 * mail past max_delay, the 500 ms control refresh, and the warm-up record refresh.
 */
import t from 'tap';
import { CONTROL_REFRESH_MS, CONTROL_REPOLL_MS } from '../../lib/engine/engine';
import { pauseOn, type Control } from '../../lib/core/control';
import { DNS_TABLE, FakeClock, fakeDns, rig } from '../helpers/fakes';
import { buildConfig } from '../../lib/config/load';
import { Engine } from '../../lib/engine/engine';
import { MemoryStore } from '../../lib/store/memory';
import { MxResolver } from '../../lib/engine/mx';
import { WARM_REFRESH_MS } from '../../lib/engine/warmup-limits';

const two = {
  sources: { a: { address: '127.0.0.2' }, b: { address: '127.0.0.3' } },
  providers: { microsoft365: { limits: { rate: 'unlimited' } }, google: { limits: { rate: 'unlimited' } } },
};
const msg = (domain: string, queueTime: number) => ({ id: `${domain}-${queueTime}`, domain, queueTime });
const by = { reason: 'r', who: 'op' };

t.test('pauseOn: the pause that ends last covers the lane; one without an end wins', async (t) => {
  const c = (target: Control['target'], until: number): Control => ({ target, action: 'pause', at: 0, until, ...by });
  const list = [
    c({ kind: 'provider', provider: 'p' }, 100),
    c({ kind: 'source', source: 'a' }, 300),
    c({ kind: 'lane', source: 'b', provider: 'q' }, 0),
  ];
  t.equal(pauseOn(list, 'a', 'p', 50)?.until, 300, 'source pause ends later than the provider pause');
  t.equal(pauseOn(list, 'b', 'p', 50)?.until, 100, 'only the provider pause covers b/p');
  t.equal(pauseOn(list, 'b', 'p', 100), undefined, 'ended at its until');
  t.equal(pauseOn(list, 'b', 'q', 1e12)?.until, 0, 'a pause without an end lasts');
  t.equal(pauseOn(list, 'c', 'x', 0), undefined, 'other lanes are free');
});

t.test(
  'a paused provider delays its mail, not other providers; a paused source leaves its pool to the others',
  async (t) => {
    const r = rig(two);
    const now = r.clock.now();
    await r.store.setControl({ target: { kind: 'provider', provider: 'microsoft365' }, forMs: 25_000, ...by });
    const held = await r.engine.decide(msg('contoso.test', now), {});
    t.match(
      held,
      { action: 'delay', seconds: CONTROL_REPOLL_MS / 1000, why: /provider microsoft365 paused by op \(r\) until / },
      'back after the repoll interval',
    );
    r.clock.advance(20_000);
    r.engine.refreshControls();
    t.match(
      await r.engine.decide(msg('contoso.test', now), {}),
      { action: 'delay', seconds: 5 },
      'near its end, back exactly when it ends',
    );
    t.match(await r.engine.decide(msg('gmail.test', now), {}), { action: 'send' }, 'Google is not paused');
    r.clock.advance(5000);
    r.engine.refreshControls();
    t.match(await r.engine.decide(msg('contoso.test', now), {}), { action: 'send' }, 'sent when the pause ends');
    await r.store.setControl({ target: { kind: 'source', source: 'a' }, forMs: 0, ...by });
    r.engine.refreshControls();
    for (let i = 0; i < 4; i++)
      t.match(
        await r.engine.decide(msg('gmail.test', now), {}),
        { action: 'send', source: { name: 'b' } },
        'source a paused: b sends',
      );
  },
);

t.test('an operator pause never bounces mail past max_delay', async (t) => {
  const r = rig(two, { main: { max_delay: '1h' } });
  const old = r.clock.now() - 2 * 3_600_000;
  await r.store.setControl({ target: { kind: 'source', source: 'a' }, forMs: 0, ...by });
  await r.store.setControl({ target: { kind: 'source', source: 'b' }, forMs: 0, ...by });
  t.match(await r.engine.decide(msg('contoso.test', old), {}), { action: 'delay' }, 'held, not expired');
});

t.test('controls are read from the store at most every CONTROL_REFRESH_MS', async (t) => {
  const r = rig(two);
  const now = r.clock.now();
  t.match(await r.engine.decide(msg('gmail.test', now), {}), { action: 'send' });
  await r.store.setControl({ target: { kind: 'provider', provider: 'google' }, forMs: 0, ...by });
  t.match(
    await r.engine.decide(msg('gmail.test', now), {}),
    { action: 'send' },
    'within the refresh interval the cached list is used',
  );
  r.clock.advance(CONTROL_REFRESH_MS);
  t.match(await r.engine.decide(msg('gmail.test', now), {}), { action: 'delay' }, 'after it, the pause is seen');
});

t.test('a warm-up record written by another node is read within WARM_REFRESH_MS', async (t) => {
  const clock = new FakeClock();
  const today = new Date(clock.now()).toISOString().slice(0, 10);
  const yaml = {
    sources: { n: { address: '127.0.0.2', warmup: { schedule: 'tiny', start: today } } },
    providers: { google: { limits: { rate: 'unlimited' } } },
  };
  const config = buildConfig({ adapt: { start: '1' } }, yaml, {
    schedules: { tiny: { progression: 'calendar', days: [2, 4] } },
  });
  const store = new MemoryStore(clock.now);
  const mx = new MxResolver(
    { cacheMaxMs: 60_000, negativeMs: 60_000, staticMx: config.staticMx },
    fakeDns(DNS_TABLE.mx, DNS_TABLE.addresses),
    clock.now,
  );
  const engine = new Engine(config, store, mx, clock.now);
  const send = async () => (await engine.decide(msg('gmail.test', clock.now()), {})).why;
  t.match(await send(), /warm-up tiny day 1, cap 2/);
  const day = Math.floor(clock.now() / 86_400_000);
  await store.putWarmRecord(
    { source: 'n', provider: 'google' },
    { start: day - 1, step: 2, evaluated: day, badDays: 0 },
  );
  t.match(await send(), /day 1, cap 2/, 'the cached record is used within the refresh interval');
  clock.advance(WARM_REFRESH_MS);
  // day 1's cap of 2 is used; day 2's cap of 4, spread over the day, books the next slot 6 h on
  // (a changed rate keeps booked slots on the slot clock, so the burst taken today counts)
  t.match(
    await send(),
    /reserved rate slot on n, next slot in 21600s/,
    'after it, the new record (day 2, cap 4) is in force',
  );
});

t.test('each control is logged once when this process starts obeying it, and once when it ends', async (t) => {
  const r = rig(two);
  const lines: string[] = [];
  r.engine.controlLog = (text) => lines.push(text);
  await r.store.setControl({
    target: { kind: 'provider', provider: 'google' },
    forMs: 60_000,
    reason: 'ticket 7',
    who: 'fay',
  });
  for (let i = 0; i < 3; i++) {
    await r.engine.decide(msg('gmail.test', r.clock.now()), {});
    r.clock.advance(CONTROL_REFRESH_MS);
  }
  t.equal(lines.length, 1, `one line for three reads (${lines.join(' | ')})`);
  t.match(lines[0], /^paceline: operator control in force: pause provider google until \S+ by fay: ticket 7$/);
  r.clock.advance(60_000);
  await r.engine.decide(msg('gmail.test', r.clock.now()), {});
  t.match(
    lines.slice(1),
    [/^paceline: operator control ended: pause provider google until \S+ by fay: ticket 7$/],
    'its end is logged once',
  );
});
