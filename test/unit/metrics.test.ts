/**
 * The metrics of one process (lib/metrics/) over a real memory store and a
 * real loopback listener: [metrics] settings, the endpoint's token and 404,
 * bounded labels, the lane gauges read from the store (states, pace, warm-up
 * cap and use), and the store-error counter and fallback gauge of a Redis
 * store that fails.
 */
import http from 'node:http';
import t from 'tap';
import { buildConfig } from '../../lib/config/load';
import { ConfigError, formatIssue } from '../../lib/config/errors';
import { DEFAULT_REACT } from '../../lib/core/adapt';
import { Engine } from '../../lib/engine/engine';
import { startMetricsListener } from '../../lib/metrics/http';
import { PacelineMetrics } from '../../lib/metrics/metrics';
import { MxResolver } from '../../lib/engine/mx';
import { FallbackStore } from '../../lib/store/fallback';
import { MemoryStore } from '../../lib/store/memory';
import type { PacingStore } from '../../lib/store/types';
import { DNS_TABLE, FakeClock, fakeDns } from '../helpers/fakes';
import { freePort } from '../helpers/ports';
import { parseExposition, total } from '../helpers/prom';

const YAML = {
  sources: {
    a: { address: '127.0.0.2' },
    b: { address: '127.0.0.3', warmup: { schedule: 'ramp', start: '2026-01-05' } },
  },
  providers: { google: { limits: { rate: '10/s', concurrency: 5 } } },
};
const WARMUP = { schedules: { ramp: { progression: 'calendar', days: [3, 6, 12] } } };
const TOKEN = 'a-long-enough-metrics-token';

function problems(ini: unknown): string[] {
  try {
    buildConfig(ini, YAML, WARMUP);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.map(formatIssue);
  }
}

function get(port: number, path: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = token ? { authorization: `Bearer ${token}` } : {};
    http
      .get({ host: '127.0.0.1', port, path, headers }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

function setup(store?: PacingStore) {
  const clock = new FakeClock();
  clock.t = Date.parse('2026-01-05T12:00:00Z');
  const config = buildConfig({ adapt: { start: '1' } }, YAML, WARMUP);
  const memory = new MemoryStore(clock.now);
  const used = store ?? memory;
  const mx = new MxResolver(
    { cacheMaxMs: 60_000, negativeMs: 60_000, staticMx: config.staticMx },
    fakeDns(DNS_TABLE.mx, DNS_TABLE.addresses),
    clock.now,
  );
  const engine = new Engine(config, used, mx, clock.now);
  const health = used instanceof FallbackStore ? () => ({ errors: used.errors, degraded: used.degraded }) : undefined;
  const metrics = new PacelineMetrics({
    config: () => engine.current,
    store: used,
    ...(health ? { storeHealth: health } : {}),
  });
  return { clock, config, store: used, memory, engine, metrics };
}

t.test('[metrics] settings: off by default, TCP only, a token beyond loopback, never printed', async (t) => {
  t.same(
    buildConfig({}, YAML, WARMUP).settings.metrics,
    { listen: { kind: 'off' }, token: '' },
    'default: no endpoint',
  );
  t.same(buildConfig({ metrics: { listen: '127.0.0.1:9465' } }, YAML, WARMUP).settings.metrics.listen, {
    kind: 'tcp',
    host: '127.0.0.1',
    port: 9465,
  });
  t.match(
    problems({ metrics: { listen: 'metrics.sock' } }).join('\n'),
    /\[metrics\]\.listen.*metrics\.sock.*TCP address/,
    'a socket path is refused: Prometheus scrapes TCP',
  );
  t.match(
    problems({ metrics: { listen: '0.0.0.0:9465' } }).join('\n'),
    /a token in \[metrics\]\.token/,
    'a public address needs a token',
  );
  t.same(problems({ metrics: { listen: '0.0.0.0:9465', token: TOKEN } }), [], 'with a token it is accepted');
  const short = problems({ metrics: { listen: '127.0.0.1:9465', token: 'hunter2' } }).join('\n');
  t.match(short, /\[metrics\]\.token.*\(hidden\).*at least 16/, 'a short token is refused');
  t.notMatch(short, /hunter2/, 'and not printed');
  t.match(problems({ metrics: { listen: '127.0.0.1:0' } }).join('\n'), /port 0/, 'a bad port is refused');
});

t.test('the endpoint: a token when set, 404 elsewhere, the exposition on GET /metrics', async (t) => {
  const { metrics } = setup();
  const port = await freePort();
  const settings = { listen: { kind: 'tcp' as const, host: '127.0.0.1', port }, token: TOKEN };
  const listener = await startMetricsListener(settings, {
    contentType: metrics.registry.contentType,
    text: () => metrics.registry.metrics(),
  });
  t.teardown(() => listener?.close());
  t.equal((await get(port, '/metrics')).status, 401, 'no token: 401');
  t.equal((await get(port, '/metrics', 'wrong-token-wrong-token')).status, 401, 'a wrong token: 401');
  t.equal((await get(port, '/other', TOKEN)).status, 404, 'another path: 404');
  const ok = await get(port, '/metrics', TOKEN);
  t.equal(ok.status, 200);
  t.ok(parseExposition(ok.body).has('paceline_decisions_total'), 'the exposition parses and has the families');
  t.equal(
    await startMetricsListener({ listen: { kind: 'off' }, token: '' }, { contentType: '', text: async () => '' }),
    undefined,
    'listen=off: no listener',
  );
});

t.test('decisions, deliveries and replies; names outside the config are labelled other', async (t) => {
  const { engine, metrics } = setup();
  const sent = await engine.decide({ id: 'm1', domain: 'gmail.test', queueTime: Date.now() }, {});
  t.equal(sent.action, 'send');
  metrics.decided(sent, 0.002);
  metrics.decided('error', 0.5);
  metrics.ended({ lane: { source: 'a', provider: 'google' } }, true);
  metrics.ended({ lane: { source: 'a', provider: 'mx:mx.small.test' } }, true);
  metrics.ended({ lane: { source: 'a', provider: 'mx:mx.other.test' } }, true);
  metrics.ended({ lane: { source: 'relay:10.0.0.9', provider: 'google' }, category: 'throttle' }, false);
  metrics.ended({ lane: { source: 'b', provider: 'google' } }, false);
  const f = parseExposition(await metrics.registry.metrics());
  t.equal(total(f, 'paceline_decisions_total', { action: 'send', reason: 'free_slot' }), 1, 'a send on a free slot');
  t.equal(total(f, 'paceline_decisions_total', { action: 'error', reason: 'error' }), 1, 'an engine failure');
  t.equal(
    total(f, 'paceline_decision_seconds', { action: 'error', le: '0.25' }, 'paceline_decision_seconds_bucket'),
    0,
    '0.5 s is not under 0.25 s',
  );
  t.equal(
    total(f, 'paceline_decision_seconds', { action: 'error', le: '0.5' }, 'paceline_decision_seconds_bucket'),
    1,
    'but under 0.5 s',
  );
  t.equal(total(f, 'paceline_deliveries_total', { source: 'a', provider: 'google' }), 1);
  t.equal(
    total(f, 'paceline_deliveries_total', { source: 'a', provider: 'other' }),
    2,
    'two mx: lanes share one label value',
  );
  t.equal(f.get('paceline_deliveries_total')?.samples.length, 2, 'two label sets, not three');
  t.equal(
    total(f, 'paceline_replies_total', { source: 'other', provider: 'google', category: 'throttle' }),
    1,
    'an unknown source: other',
  );
  t.equal(
    total(f, 'paceline_replies_total', { source: 'b', category: 'unclassified' }),
    1,
    'a failure without a category',
  );
});

t.test('lane gauges come from the store: states, pace, warm-up cap and use', async (t) => {
  const { engine, metrics, store, config, clock } = setup();
  for (let i = 0; i < 4; i++) {
    t.equal((await engine.decide({ id: `m${i}`, domain: 'gmail.test', queueTime: clock.now() }, {})).action, 'send');
    clock.advance(1000);
  }
  const small = await engine.decide({ id: 'x', domain: 'small.test', queueTime: clock.now() }, {});
  if (small.action !== 'send') throw new Error(`small.test: ${small.why}`);
  const limits = (await import('../../lib/config/lane-limits')).laneLimits(config, 'a', 'google');
  await store.react({ source: 'a', provider: 'google' }, limits, { category: 'throttle' }, DEFAULT_REACT);
  await store.setControl({
    target: { kind: 'lane', source: small.source.name, provider: small.provider },
    forMs: 60_000,
    reason: 'test',
    who: 'op',
  });
  const f = parseExposition(await metrics.registry.metrics());
  t.equal(total(f, 'paceline_lanes'), 3, 'three lanes with state');
  t.equal(total(f, 'paceline_lanes', { state: 'paused' }), 1, 'the throttled lane is paused');
  t.equal(total(f, 'paceline_lanes', { state: 'operator_paused' }), 1, 'the operator-paused lane');
  t.equal(total(f, 'paceline_lanes', { state: 'blocked' }), 0, 'every state has a sample, 0 when none');
  t.equal(
    total(f, 'paceline_lane_pace_factor', { source: 'a', provider: 'google' }),
    DEFAULT_REACT.decrease,
    'the throttled lane runs at half pace',
  );
  t.equal(total(f, 'paceline_lane_pace_factor', { source: 'b', provider: 'google' }), 1, 'the other at full pace');
  t.equal(
    total(f, 'paceline_warmup_cap', { source: 'b', provider: 'google' }),
    3,
    'the warming source: day 1 of its ramp, cap 3',
  );
  const sentB = total(f, 'paceline_warmup_sent', { source: 'b', provider: 'google' });
  t.ok(sentB >= 1 && sentB <= 3, `it sent ${sentB} of them today`);
  t.equal(sentB + total(f, 'paceline_warmup_sent', { source: 'a' }), sentB, 'use is shown for capped lanes only');
  t.equal(total(f, 'paceline_warmup_cap', { source: 'a' }), 0, 'a warm source has no cap');
});

t.test('a failing shared store: errors counted, the fallback gauge set, the scrape still answers', async (t) => {
  const broken = new Proxy({} as PacingStore, {
    get: (_, name) =>
      name === 'close' ? async () => undefined : async () => Promise.reject(new Error('connection refused')),
  });
  const fallback = new FallbackStore(broken, {
    policy: 'local',
    clusterSize: 1,
    retryMs: 0,
    delayMs: 30_000,
    log: () => undefined,
  });
  const { engine, metrics } = setup(fallback);
  t.equal(
    (await engine.decide({ id: 'm', domain: 'gmail.test', queueTime: Date.now() }, {})).action,
    'send',
    'mail still moves',
  );
  const f = parseExposition(await metrics.registry.metrics());
  const errors = total(f, 'paceline_store_errors_total');
  // the first failed call; while Redis is down calls are answered at once and only its checks can fail
  t.ok(errors >= 1, `store errors counted (${errors})`);
  t.equal(total(f, 'paceline_store_fallback'), 1, 'this process answers from on_store_error');
  const again = parseExposition(await metrics.registry.metrics());
  t.ok(total(again, 'paceline_store_errors_total') >= errors, 'a counter never goes down between scrapes');
});
