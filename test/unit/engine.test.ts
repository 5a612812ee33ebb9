import t from 'tap';
import type { Decision, Ticket } from '../../lib/engine/engine';
import { rig } from '../helpers/fakes';

const two = {
  sources: {
    a: { address: '127.0.0.2', helo: 'a.example.test' },
    b: { address: '127.0.0.3', helo: 'b.example.test' },
    c: { address: '::1' },
  },
  pools: { default: { sources: ['a', 'b'] }, other: { sources: ['c'] } },
  providers: { microsoft365: { limits: { rate: '30/min', concurrency: 'unlimited' } } },
};

const msg = (domain: string, queueTime: number, pool?: string) => ({
  id: `${domain}-${queueTime}`,
  domain,
  queueTime,
  ...(pool ? { pool } : {}),
});

t.test('spreads a burst over the pool, then delays by exactly the next slot', async (t) => {
  const r = rig(two);
  const q = r.clock.now();
  const got: Decision[] = [];
  for (let i = 0; i < 6; i++) got.push(await r.engine.decide(msg('contoso.test', q), {}));
  t.same(
    got
      .slice(0, 2)
      .map((d) => d.action === 'send' && d.source.name)
      .sort(),
    ['a', 'b'],
    'both sources used at once',
  );
  t.same(
    got
      .slice(2)
      .map((d) => (d.action === 'hold' ? `hold ${d.ms}` : d.action === 'delay' ? `delay ${d.seconds}` : d.action)),
    ['hold 2000', 'hold 2000', 'delay 3', 'delay 3'],
    'reservations alternate sources, 2 s apart per source; a slot 4 s away comes back after 3 s and is held for the rest',
  );
  for (const d of got)
    if (d.action === 'delay') t.ok(Number.isInteger(d.seconds) && d.seconds >= 1, 'whole seconds ≥ 1');
  t.match(got[4], { why: /next slot in 4s \(back in 3s\)/ });
});

t.test('providers group domains: two Microsoft 365 tenants share one lane; Google is another', async (t) => {
  const r = rig(two);
  const q = r.clock.now();
  await r.engine.decide(msg('contoso.test', q), {});
  await r.engine.decide(msg('fabrikam.test', q), {});
  const third = await r.engine.decide(msg('fabrikam.test', q), {});
  t.equal(third.action, 'hold', 'the second tenant is paced with the first');
  t.match(third, { provider: 'microsoft365' });
  const gmail = await r.engine.decide(msg('gmail.test', q), {});
  t.match(gmail, { action: 'send', provider: 'google' }, 'a backlog at one provider never slows another');
});

t.test('a message comes back for its reserved slot and is sent from that source', async (t) => {
  const r = rig(two);
  const q = r.clock.now();
  await r.engine.decide(msg('contoso.test', q), {});
  await r.engine.decide(msg('contoso.test', q), {});
  const ticket: Ticket = {};
  const first = await r.engine.decide(msg('contoso.test', q), ticket);
  t.match(first, { action: 'hold', ms: 2000 });
  const booked = ticket.reservation!;
  t.ok(booked, 'reservation kept on the ticket');
  r.clock.advance(1000);
  t.match(
    await r.engine.decide(msg('contoso.test', q), ticket),
    { action: 'hold', ms: 1000 },
    'early returns are held for the rest',
  );
  r.clock.advance(1000);
  const sent = await r.engine.decide(msg('contoso.test', q), ticket);
  t.match(sent, { action: 'send' });
  t.equal(sent.action === 'send' && sent.source.name, booked.lane.source);
  t.ok(ticket.lease, 'lease held');
  t.notOk(ticket.reservation, 'reservation used up');
  await r.engine.outcome(ticket, { delivered: true });
  t.notOk(ticket.lease, 'released');
});

t.test('concurrency: a lease is freed on finish, whatever the outcome', async (t) => {
  const r = rig({ ...two, providers: { google: { limits: { rate: 'unlimited', concurrency: 1 } } } });
  const q = r.clock.now();
  const tickets: Ticket[] = [{}, {}, {}];
  t.match(await r.engine.decide(msg('gmail.test', q), tickets[0]!), { action: 'send' });
  t.match(await r.engine.decide(msg('gmail.test', q), tickets[1]!), { action: 'send' });
  t.match(
    await r.engine.decide(msg('gmail.test', q), tickets[2]!),
    { action: 'hold', ms: 1000, reason: 'concurrency' },
    'both lanes busy: held for its turn, when the soonest delivery is expected to end (1 s, the initial mean)',
  );
  await r.engine.outcome(tickets[0]!, { delivered: false });
  t.match(
    await r.engine.decide(msg('gmail.test', q), tickets[2]!),
    { action: 'send' },
    'deferred delivery freed its slot',
  );
});

t.test('max_delay: a message held too long expires instead of waiting again', async (t) => {
  const r = rig({ ...two, providers: { microsoft365: { limits: { per_day: 1 } } } }, { main: { max_delay: '2h' } });
  const q = r.clock.now();
  await r.engine.decide(msg('contoso.test', q), {});
  await r.engine.decide(msg('contoso.test', q), {});
  const d = await r.engine.decide(msg('contoso.test', q), {});
  t.match(d, { action: 'delay', seconds: 7200 }, 'daily cap waits until max_delay at most, not midnight');
  r.clock.advance(7200 * 1000);
  t.match(await r.engine.decide(msg('contoso.test', q), {}), { action: 'expire', provider: 'microsoft365' });
  t.match(await r.engine.decide(msg('gmail.test', q), {}), { action: 'send' }, 'an old message with budget still goes');
});

t.test('pools, address families and unknown pools', async (t) => {
  const r = rig(two);
  const q = r.clock.now();
  t.match(await r.engine.decide(msg('contoso.test', q, 'other'), {}), {
    action: 'send',
    source: { name: 'c', family: 6 },
  });
  t.match(
    await r.engine.decide(msg('gmail.test', q, 'other'), {}),
    { action: 'unroutable' },
    'IPv6 pool cannot reach an IPv4-only MX',
  );
  t.match(await r.engine.decide(msg('v6only.test', q), {}), { action: 'unroutable' });
  t.match(await r.engine.decide(msg('gmail.test', q, 'nosuch'), {}), {
    action: 'send',
    why: /unknown pool "nosuch", using "default"/,
  });
  t.match(
    await r.engine.decide(msg('nxdomain.test', q), {}),
    { action: 'pass', why: /ENOTFOUND/ },
    'DNS trouble is left to Haraka',
  );
});

t.test('MX answers are cached', async (t) => {
  const r = rig(two);
  for (let i = 0; i < 5; i++) await r.engine.decide(msg('gmail.test', r.clock.now()), {});
  t.equal(r.dns.queries, 1);
  r.clock.advance(301_000);
  await r.engine.decide(msg('gmail.test', r.clock.now()), {});
  t.equal(r.dns.queries, 2, 'looked up again after the TTL');
});

t.test('a reload swaps limits at once', async (t) => {
  const r = rig(two);
  const q = r.clock.now();
  await r.engine.decide(msg('contoso.test', q), {});
  await r.engine.decide(msg('contoso.test', q), {});
  t.match(await r.engine.decide(msg('contoso.test', q), {}), { action: 'hold' });
  const { buildConfig } = await import('../../lib/config/load');
  r.engine.reconfigure(buildConfig({}, { ...two, providers: { microsoft365: { limits: { rate: 'unlimited' } } } }));
  t.match(await r.engine.decide(msg('contoso.test', q), {}), { action: 'send' });
});

t.test('a slot taken between peek and acquire books the soonest source, not the last-ranked one', async (t) => {
  const slow = {
    sources: { a: { address: '127.0.0.2' }, b: { address: '127.0.0.3', limits: { microsoft365: { rate: '6/h' } } } },
    providers: { microsoft365: { limits: { rate: '30/min', concurrency: 'unlimited' } } },
  };
  const r = rig(slow);
  const q = r.clock.now();
  const first = [await r.engine.decide(msg('contoso.test', q), {}), await r.engine.decide(msg('contoso.test', q), {})];
  t.same(first.map((d) => d.action === 'send' && d.source.name).sort(), ['a', 'b'], 'both sources used once');
  r.clock.advance(2_000); // a is free again; b's next slot is 10 minutes away
  // Two decisions at once: both peek a free, the first takes it, the second must book a's next slot (2 s), not b's (598 s).
  const [one, two] = await Promise.all([
    r.engine.decide(msg('contoso.test', q), {}),
    r.engine.decide(msg('contoso.test', q), {}),
  ]);
  t.match(one, { action: 'send', source: { name: 'a' } });
  const wait = two?.action === 'hold' ? two.ms / 1000 : two?.action === 'delay' ? two.seconds : Infinity;
  t.ok(wait <= 3, `the second waits about a's interval (2 s), got ${JSON.stringify(two)}`);
  t.notMatch(two?.why ?? '', /on b\b/, 'not booked on the slow source');
});
