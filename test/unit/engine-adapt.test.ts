import t from 'tap';
import type { Classifier } from '../../lib/engine/outcomes';
import type { Decision, Ticket } from '../../lib/engine/engine';
import { DNS_TABLE, FakeClock, fakeDns, rig } from '../helpers/fakes';
import { buildConfig } from '../../lib/config/load';
import { Engine } from '../../lib/engine/engine';
import { MxResolver } from '../../lib/engine/mx';
import { MemoryStore } from '../../lib/store/memory';
import { statusRows } from '../../lib/engine/status-rows';

const classify: Classifier = (reply) => {
  if (/4\.7\.500/.test(reply)) return { category: 'throttle', rule: 'ms-as-throttle' };
  if (/TSS04/.test(reply)) return { category: 'suspend', rule: 'yahoo-tss04', durationMs: 2 * 3_600_000 };
  if (/5\.1\.1/.test(reply)) return { category: 'recipient', rule: 'unknown-user' };
  if (/flaky/.test(reply)) return { category: 'throttle', rule: 'flaky', threshold: { count: 3, windowMs: 60_000 } };
  return { category: 'unknown' };
};

const yaml = {
  sources: { a: { address: '127.0.0.2' }, b: { address: '127.0.0.3' } },
  providers: {
    microsoft365: { limits: { rate: '60/min', concurrency: 'unlimited' } },
    google: { limits: { rate: 'unlimited' } },
  },
};
const BUSY = 'Upstream error: 451 4.7.500 Server busy. Please try again later from [127.0.0.2]. (AS843)';

async function send(r: ReturnType<typeof rig>, domain: string): Promise<{ d: Decision; ticket: Ticket }> {
  const ticket: Ticket = {};
  const d = await r.engine.decide({ id: 'm', domain, queueTime: r.clock.now() }, ticket);
  return { d, ticket };
}

t.test(
  'a throttled lane slows and pauses; mail reroutes to the other source; the retry follows the lane',
  async (t) => {
    const r = rig(yaml, {}, classify);
    const first = await send(r, 'contoso.test');
    t.match(first.d, { action: 'send' });
    const throttled = first.d.action === 'send' ? first.d.source.name : '';
    const report = await r.engine.outcome(first.ticket, { delivered: false, reply: BUSY });
    t.match(report, {
      category: 'throttle',
      rule: 'ms-as-throttle',
      effect: 'slowed',
      incident: false,
      reopensAt: r.clock.now() + r.config.settings.adapt.react.throttlePauseMs,
    });
    const states = await r.store.lanes();
    const lane = (s: string) =>
      states.value.find((l) => l.lane.source === s && l.lane.provider === 'microsoft365')?.state;
    t.equal(lane(throttled)?.factor, r.config.settings.adapt.react.decrease, 'nothing accepted yet: × decrease');
    const other = throttled === 'a' ? 'b' : 'a';
    t.equal(lane(other)?.factor ?? 1, 1, 'the other lane keeps full speed');
    const next = await send(r, 'contoso.test');
    t.match(next.d, { action: 'send', source: { name: other } }, 'rerouted away from the throttled IP');
    t.match((await send(r, 'gmail.test')).d, { action: 'send' }, 'another provider is untouched');
  },
);

t.test('the same provider throttling most sources is an incident: pause the provider, probe, recover', async (t) => {
  const r = rig(yaml, {}, classify);
  const x = await send(r, 'contoso.test');
  const y = await send(r, 'fabrikam.test');
  t.match([x.d.action, y.d.action], ['send', 'send']);
  await r.engine.outcome(x.ticket, { delivered: false, reply: BUSY });
  const second = await r.engine.outcome(y.ticket, { delivered: false, reply: BUSY });
  t.match(second, { incident: true, reopensAt: r.clock.now() + 300_000 });
  const lanes = (await r.store.lanes()).value.filter((l) => l.lane.provider === 'microsoft365');
  const providerPause = r.clock.now() + 300_000;
  t.ok(
    lanes.every((l) => l.state.factor === 1),
    'no source is slowed for the provider’s trouble',
  );
  t.ok(
    lanes.every((l) => l.state.pauseUntil === providerPause),
    'each waits out the provider’s pause, not a pause of its own',
  );
  t.match(
    (await send(r, 'contoso.test')).d,
    { action: 'delay', seconds: 300, why: /provider microsoft365 paused/ },
    'nothing rerouted',
  );
  // the lanes' slot clocks stood still during the pause: the next slot is one interval after it
  r.clock.advance(301_000);
  const probe = await send(r, 'contoso.test');
  t.match(probe.d, { action: 'send', why: /provider probe/ });
  t.match((await send(r, 'contoso.test')).d, { action: 'delay', seconds: 30, why: /probing/ }, 'one probe at a time');
  await r.engine.outcome(probe.ticket, { delivered: true });
  t.match((await send(r, 'contoso.test')).d, { action: 'send' }, 'a delivered probe ends the incident');
});

t.test(
  "a first burst above two new lanes' limits is not a provider-wide incident; nor are lanes still finding their pace",
  async (t) => {
    const r = rig(yaml, { adapt: { start: '0.1' } }, classify);
    const x = await send(r, 'contoso.test');
    const y = await send(r, 'fabrikam.test');
    t.match([x.d.action, y.d.action], ['send', 'send']);
    r.clock.advance(5);
    const a = await r.engine.outcome(x.ticket, { delivered: false, reply: BUSY });
    const b = await r.engine.outcome(y.ticket, { delivered: false, reply: BUSY });
    t.match(
      [a, b],
      [
        { effect: 'overshot', incident: false },
        { effect: 'overshot', incident: false },
      ],
      'both IPs refused within ms in their start phase',
    );
    t.notMatch((await send(r, 'gmail.test')).d, { why: /provider-wide/ });
    // both reopen; each is accepted once, then refused again within five minutes: still converging
    // one message, decided again when it comes back (as Haraka does), so it keeps its booking
    const sendWhenFree = async (domain: string) => {
      const ticket: Ticket = {};
      const queueTime = r.clock.now();
      for (let i = 0; i < 40; i++) {
        const d = await r.engine.decide({ id: `m${i}`, domain, queueTime }, ticket);
        if (d.action === 'send') return { d, ticket };
        r.clock.advance(d.action === 'delay' ? d.seconds * 1000 : d.action === 'hold' ? d.ms : 1000);
      }
      throw new Error(`${domain}: no slot within 200 s`);
    };
    const refusedAgain = [];
    for (const domain of ['contoso.test', 'fabrikam.test']) {
      await r.engine.outcome((await sendWhenFree(domain)).ticket, { delivered: true });
      refusedAgain.push(await r.engine.outcome((await sendWhenFree(domain)).ticket, { delivered: false, reply: BUSY }));
    }
    t.equal(refusedAgain.length, 2, 'both lanes were refused again');
    // whichever lane each message left from: refused within SETTLE_MS of reopening, it is still
    // converging (overshot, or extended when nothing was accepted on it since): never 'slowed'
    t.ok(
      refusedAgain.every((o) => (o?.effect === 'overshot' || o?.effect === 'extended') && o.incident === false),
      'no incident from lanes within SETTLE_MS of their last reaction',
    );
  },
);

t.test('suspend pauses for the rule duration; recipient trouble changes nothing', async (t) => {
  const r = rig(yaml, {}, classify);
  const m = await send(r, 'contoso.test');
  const rep = await r.engine.outcome(m.ticket, {
    delivered: false,
    reply: '421 4.7.0 [TSS04] Messages from 127.0.0.2 temporarily deferred',
  });
  t.match(rep, { category: 'suspend', effect: 'suspended', reopensAt: r.clock.now() + 7_200_000 });
  const u = await send(r, 'contoso.test');
  const rep2 = await r.engine.outcome(u.ticket, { delivered: false, reply: '550 5.1.1 User unknown' });
  t.match(rep2, { category: 'recipient', effect: 'counted' });
  t.notOk(rep2?.reopensAt, 'no lane change');
});

t.test('a rule with a threshold acts only after N matches in its window', async (t) => {
  const r = rig(yaml, {}, classify);
  const effects: unknown[] = [];
  for (let i = 0; i < 3; i++) {
    // a split-off message: no lease of its own, its lane comes from the original
    effects.push(
      (await r.engine.outcome({}, { delivered: false, reply: '451 flaky', lane: { source: 'a', provider: 'google' } }))
        ?.category,
    );
  }
  t.same(effects, ['transient', 'transient', 'throttle']);
});

t.test('a hostile server answering 4.7.500 only slows its own lane', async (t) => {
  const r = rig(yaml, {}, classify);
  const m = await send(r, 'small.test');
  t.match(m.d, { action: 'send', provider: 'mx:mx.small.test' });
  for (let i = 0; i < 5; i++) {
    r.clock.advance(61_000);
    const again = await send(r, 'small.test');
    await r.engine.outcome(again.ticket, { delivered: false, reply: BUSY });
  }
  const lanes = (await r.store.lanes()).value;
  t.ok(
    lanes.filter((l) => l.lane.provider !== 'mx:mx.small.test').every((l) => l.state.factor === 1),
    'no other provider’s lane changed',
  );
  t.match((await send(r, 'contoso.test')).d, { action: 'send' });
});

t.test('a lane learns its pace from what the provider accepted, and paceline status shows it', async (t) => {
  const r = rig(yaml, {}, classify);
  for (let i = 0; i < 20; i++) {
    const m = await send(r, 'contoso.test');
    t.equal(m.d.action, 'send', `message ${i} leaves`);
    r.clock.advance(500);
    await r.engine.outcome(m.ticket, { delivered: true });
  }
  const refused = await send(r, 'contoso.test');
  const report = await r.engine.outcome(refused.ticket, { delivered: false, reply: BUSY });
  t.match(report, { category: 'throttle', effect: 'slowed' });
  const { value } = await r.store.lanes();
  const lane = value.find((l) => l.lane.provider === 'microsoft365' && l.state.known > 0);
  t.ok(lane, 'the refused lane remembers a known-good pace');
  const accepted =
    value.filter((l) => l.lane.provider === 'microsoft365').find((l) => l.lane.source === lane?.lane.source)?.state
      .acceptCount ?? 0;
  t.ok(
    Math.abs((lane?.state.factor ?? 0) - 0.9 * (accepted / 60)) < 1e-9,
    `pace = 0.9 × ${accepted} accepted in the last minute ÷ 60/min configured`,
  );
  const rows = statusRows(r.engine.current, value, r.clock.now());
  const row = rows.find((x) => x.source === lane?.lane.source && x.provider === 'microsoft365');
  t.equal(row?.knownGood, lane?.state.known, 'status --json carries the known-good pace');
  t.match(
    row?.state,
    new RegExp(
      `known-good pace ${Math.round((lane?.state.known ?? 0) * 100)}% \\(${Math.round((lane?.state.known ?? 0) * 60)}/min\\)`,
    ),
    'and says it in words',
  );
});

t.test(
  'a pool outside its warm-up active hours waits for them, even while its provider is probed after an incident',
  async (t) => {
    const clock = new FakeClock(); // 01:00 UTC
    const config = buildConfig(
      { adapt: { incident_min_sources: '1' } },
      {
        sources: { a: { address: '127.0.0.2', warmup: { schedule: 'day', start: '2026-11-26' } } },
        providers: { microsoft365: { limits: { rate: '60/min' } } },
      },
      { schedules: { day: { days: [100, 200], active_hours: '08:00-20:00' } } },
    );
    const store = new MemoryStore(clock.now);
    const mx = new MxResolver(
      {
        cacheMaxMs: config.settings.dnsCacheMaxMs,
        negativeMs: config.settings.dnsNegativeMs,
        staticMx: config.staticMx,
      },
      fakeDns(DNS_TABLE.mx, DNS_TABLE.addresses),
      clock.now,
    );
    const engine = new Engine(config, store, mx, clock.now, classify);
    const incident = await store.providerThrottle('microsoft365', 'a', 1, config.settings.adapt.incident);
    t.ok(incident.incident, 'the provider has an incident');
    clock.advance(config.settings.adapt.incident.pauseMs);
    const d = await engine.decide({ id: 'm', domain: 'contoso.test', queueTime: clock.now() }, {});
    t.match(
      d,
      {
        action: 'delay',
        seconds: 7 * 3600 - config.settings.adapt.incident.pauseMs / 1000,
        why: /outside the warm-up active hours/,
      },
      'until 08:00, not until max_delay',
    );
  },
);

t.test(
  'mail booked on a lane that slowed down after it was booked leaves from a source free now, not behind the slowed pace',
  async (t) => {
    const r = rig(yaml, {}, classify);
    const q = r.clock.now();
    const first = await send(r, 'contoso.test');
    await send(r, 'contoso.test');
    // a backlog booked over both lanes, a second apart on each
    const booked: Ticket[] = [];
    for (let i = 0; i < 8; i++) {
      const ticket: Ticket = {};
      await r.engine.decide({ id: `m${i}`, domain: 'contoso.test', queueTime: q }, ticket);
      booked.push(ticket);
    }
    const slowed = first.d.action === 'send' ? first.d.source.name : '';
    const mine = booked.filter((b) => b.reservation?.lane.source === slowed);
    t.equal(mine.length, 4, `half the backlog is booked on ${slowed}`);
    await r.engine.outcome(first.ticket, { delivered: false, reply: BUSY });
    // the pause is over: the lane is open again, at half its pace, and its bookings moved later with it
    r.clock.advance(r.config.settings.adapt.react.throttlePauseMs + 1000);
    const last = mine[mine.length - 1] as Ticket;
    const d = await r.engine.decide({ id: 'late', domain: 'contoso.test', queueTime: q }, last);
    const other = slowed === 'a' ? 'b' : 'a';
    t.match(d, { action: 'send', source: { name: other } }, 'its booking moved more than 4 s ahead: it leaves now');
    t.notOk(last.reservation, 'the booking on the slowed lane is given up');
    const states = await r.store.lanes();
    const lane = states.value.find((l) => l.lane.source === slowed && l.lane.provider === 'microsoft365');
    t.ok(lane && lane.state.pauseUntil <= r.clock.now(), 'the slowed lane is open again: not the paused case');
    t.equal(lane?.state.factor, r.config.settings.adapt.react.decrease, 'at × decrease of its pace');
  },
);
