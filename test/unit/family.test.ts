import t from 'tap';
import {
  DEFAULT_MESSAGES,
  describeScenario,
  drawScenario,
  limiterFor,
  oracle,
  type FamilyScenario,
} from '../../sim/family';

const SEEDS = Array.from({ length: 40 }, (_, i) => i + 1);
const MIN = 60_000;

t.test('a scenario is a function of its seed', async (t) => {
  for (const seed of [1, 2, 99]) t.same(drawScenario(seed), drawScenario(seed), `seed ${seed}`);
  t.notSame(drawScenario(1).providers, drawScenario(2).providers);
});

t.test('sources: 1–4 loopback addresses s1..sN with ages in the three bands, and a mix over seeds', async (t) => {
  const ages = new Set<string>();
  const counts = new Set<number>();
  for (const seed of SEEDS) {
    const s = drawScenario(seed);
    counts.add(s.sources.length);
    s.sources.forEach((src, i) => {
      t.equal(src.name, `s${i + 1}`);
      t.equal(src.address, `127.0.0.${i + 2}`);
      ages.add(src.age);
      const ok =
        src.age === 'new'
          ? src.ageDays <= 3
          : src.age === 'young'
            ? src.ageDays >= 7 && src.ageDays <= 30
            : src.ageDays >= 90;
      t.ok(ok, `seed ${seed} ${src.name} age ${src.ageDays} is ${src.age}`);
    });
  }
  t.same([...counts].sort(), [1, 2, 3, 4]);
  t.same([...ages].sort(), ['established', 'new', 'young']);
});

t.test('hidden limits stay in their ranges', async (t) => {
  for (const seed of SEEDS) {
    const s = drawScenario(seed);
    const [ms, gg, plain] = s.providers;
    t.equal(plain?.limiter, null);
    for (const src of s.sources) {
      const m = ms?.limiter?.limits[src.address];
      const g = gg?.limiter?.limits[src.address];
      if (!m || !g) throw new Error('missing limits');
      t.ok(
        m.sessions >= 1 && m.sessions <= 3 && m.windowMs >= 3000 && m.windowMs <= 300_000 && m.perWindow >= 1,
        `seed ${seed} microsoft`,
      );
      t.ok(m.perWindow <= Math.max(1, Math.round((10 * m.windowMs) / 1000)), 'rate ≤ 10/s');
      t.ok(
        m.penalty &&
          m.penalty.strikes >= 10 &&
          m.penalty.strikes <= 30 &&
          m.penalty.durationMs >= 15 * MIN &&
          m.penalty.durationMs <= 60 * MIN,
      );
      t.ok(
        g.windowMs === MIN && g.perWindow >= 30 && g.perWindow <= 300 && g.sessions >= 3 && g.sessions <= 10,
        `seed ${seed} google`,
      );
    }
  }
});

t.test(
  'messages: default count, 70/20/10 split, unique Message-IDs and recipients, MX hosts decide the provider',
  async (t) => {
    const s = drawScenario(7);
    t.equal(s.messages.length, DEFAULT_MESSAGES);
    const by = (p: string) => s.messages.filter((m) => m.provider === p).length;
    t.same([by('microsoft'), by('google'), by('plain')], [700, 200, 100]);
    t.equal(new Set(s.messages.map((m) => m.messageId)).size, s.messages.length);
    t.equal(new Set(s.messages.map((m) => m.rcpt)).size, s.messages.length);
    t.equal(drawScenario(7, { messages: 60 }).messages.length, 60);
    const [ms, gg, plain] = s.providers;
    t.equal(ms?.domains.length, 20);
    t.ok(ms?.domains.every((d) => d.mxHost.endsWith('.mail.protection.outlook.com')));
    t.ok(gg?.domains.every((d) => d.mxHost.endsWith('.google.com')));
    t.equal(plain?.domains.length, 10);
  },
);

t.test('events: each kind appears over seeds, within its time ranges', async (t) => {
  const kinds = new Set<string>();
  for (const seed of SEEDS) {
    for (const e of drawScenario(seed).events) {
      kinds.add(e.kind);
      const len = e.endMs - e.startMs;
      if (e.kind === 'rule-bug')
        t.ok(e.provider === 'microsoft' && e.address && e.startMs <= 5 * MIN && len >= 5 * MIN && len <= 30 * MIN);
      else
        t.ok(e.address === undefined && e.startMs >= MIN && e.startMs <= 5 * MIN && len >= 2 * MIN && len <= 10 * MIN);
    }
  }
  t.same([...kinds].sort(), ['outage', 'rule-bug']);
});

const fixed = (over: Partial<FamilyScenario> = {}): FamilyScenario => {
  const s = drawScenario(3, { messages: 100_000 });
  const limits = { sessions: 1, windowMs: 10_000, perWindow: 5, penalty: null };
  const spec = (p: string) => ({
    provider: p,
    limits: { '127.0.0.2': limits },
    unknown: limits,
    blackouts: [],
    reply: { code: 451, text: 'x' },
  });
  return {
    ...s,
    sources: [{ name: 's1', address: '127.0.0.2', ageDays: 100, age: 'established' }],
    providers: [
      {
        name: 'microsoft',
        domains: [],
        limiter: { ...spec('microsoft'), blackouts: [{ startMs: 20_000, endMs: 40_000, address: '127.0.0.2' }] },
      },
      { name: 'google', domains: [], limiter: spec('google') },
      { name: 'plain', domains: [], limiter: null },
    ],
    ...over,
  };
};

t.test('oracle: L × (floor(len / W) + 1) per free segment, capped at offered', async (t) => {
  const s = fixed();
  const table: Array<[number, number, number]> = [
    // atMs, microsoft, google
    [0, 5, 5],
    [9_999, 5, 5],
    [10_000, 10, 10],
    [19_999, 10, 10],
    [30_000, 10, 20], // microsoft: rule bug 20–40 s, [0, 20 s) needs 2 windows
    [40_000, 15, 25], // the closed stretch [40 s, 40 s] adds one window
    [60_000, 10 + 15, 35],
  ];
  for (const [at, m, g] of table) {
    const o = oracle(s, at);
    t.same([o.byProvider.microsoft, o.byProvider.google], [m, g], `at ${at}`);
    t.equal(o.total, m + g + o.byProvider.plain);
  }
  const small = oracle(drawScenario(3, { messages: 10 }), 3_600_000);
  t.equal(small.total, 10, 'never more than offered');
});

t.test('oracle is an upper bound: a greedy knowing sender on the limiter never beats it', async (t) => {
  for (const seed of SEEDS.slice(0, 12)) {
    const s = drawScenario(seed, { messages: 100_000 });
    for (const name of ['microsoft', 'google'] as const) {
      const l = limiterFor(s, name, 0);
      if (!l) throw new Error('no limiter');
      let accepted = 0;
      const at = 10 * MIN;
      for (let now = 0; now <= at; now += 250) {
        for (const src of s.sources) while (l.mail(src.address, now) === null) accepted++;
      }
      t.ok(accepted <= oracle(s, at).byProvider[name], `seed ${seed} ${name}: ${accepted} ≤ oracle`);
    }
  }
});

t.test('description: one line per source, provider × IP and event', async (t) => {
  const s = drawScenario(5);
  const lines = describeScenario(s);
  t.equal(lines.length, 1 + s.sources.length + 3 + 2 * s.sources.length + Math.max(1, s.events.length));
  t.match(lines.join('\n'), /microsoft: 700 messages/);
});
