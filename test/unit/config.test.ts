import t from 'tap';
import { buildConfig } from '../../lib/config/load';
import { ConfigError, formatIssue } from '../../lib/config/errors';
import { laneLimits } from '../../lib/config/lane-limits';
import { formatRate } from '../../lib/core/rate';
import { iniSyntax, yamlSyntax } from '../../lib/config/syntax';
import { storeChanged } from '../../lib/haraka/glue';

/** The messages buildConfig reports, or [] when it accepts the files. */
function problems(ini: unknown, yaml: unknown): string[] {
  try {
    buildConfig(ini, yaml);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.issues.map(formatIssue);
  }
}

const good = {
  sources: {
    a: { address: '127.0.0.2', helo: 'a.example.test' },
    b: { address: '127.0.0.3', helo: 'b.example.test', limits: { google: { rate: '5/s' } } },
    v6: { address: '::1' },
  },
  pools: { default: { sources: ['a', 'b'] }, bulk: { sources: ['v6'], limits: { '*': { per_day: 100 } } } },
  providers: {
    microsoft365: { limits: { rate: '10/min' } },
    partner: { mx: ['mx.partner.test'], limits: { concurrency: 2 } },
  },
  defaults: { limits: { concurrency: 4 } },
  static_mx: { 'partner.test': [{ host: 'mx.partner.test', address: '127.0.0.1', port: 2525 }] },
};

t.test('a valid config builds a frozen, typed Config', async (t) => {
  const c = buildConfig({ main: { max_delay: '2h' } }, good);
  t.equal(c.settings.maxDelayMs, 7_200_000);
  t.equal(c.settings.poolHeader, 'X-Paceline-Pool');
  t.equal(c.sources.get('v6')?.family, 6);
  t.ok(Object.isFrozen(c));
  t.equal(c.matcher.match(['mx.partner.test']), 'partner');
  t.same(c.staticMx.get('partner.test'), [{ host: 'mx.partner.test', address: '127.0.0.1', port: 2525, priority: 0 }]);
});

t.test('lane limits layer defaults < provider < pool < source, field by field', async (t) => {
  const c = buildConfig({}, good);
  const m = laneLimits(c, 'a', 'microsoft365');
  t.equal(formatRate(m.rate!), '10/min', 'operator override of a shipped provider');
  t.equal(m.concurrency, 10, 'shipped concurrency kept');
  t.equal(formatRate(laneLimits(c, 'b', 'google').rate!), '5/s', 'source override');
  t.same(
    { ...laneLimits(c, 'a', 'mx:mx.other.test'), policy: undefined },
    { concurrency: 4, policy: undefined },
    'unknown provider gets defaults',
  );
  t.same(laneLimits(c, 'a', 'google').policy, c.settings.adapt.policy, 'the adaptation policy travels with the limits');
  t.equal(laneLimits(c, 'v6', 'partner').perDay, 100, 'pool "*" applies to every provider');
  t.equal(laneLimits(c, 'v6', 'partner').concurrency, 2);
});

t.test('no sources: one implicit source and pool', async (t) => {
  const c = buildConfig({}, { sources: {}, pools: {} });
  t.same([...c.pools.keys()], ['default']);
  t.equal(c.sources.get('default')?.address, undefined);
});

t.test('sources without pools form the pool "default"', async (t) => {
  const c = buildConfig({}, { sources: good.sources });
  t.same(c.pools.get('default')?.sources, ['a', 'b', 'v6']);
});

t.test('every problem is reported with file, key path, value and expectation', async (t) => {
  const bad = {
    sources: {
      a: { address: '127.0.0.300', helo: 'not a host' },
      b: { address: '10.0.0.1', colour: 'blue' },
    },
    pools: { default: { sources: ['a', 'nope', 'b', 'b'] }, empty: { sources: [] } },
    providers: { microsoft365: { limits: { rate: '10/fortnight', concurrency: 0 } }, mine: { limits: {} } },
    defaults: { limits: { per_day: 'lots' } },
    extra: true,
  };
  const got = problems({ main: { max_delay: 'forever', colour: 'x' }, mongodb: {} }, bad);
  const want = [
    /^paceline\.ini: \[main\]\.colour: got "x", expected no such key/,
    /^paceline\.ini: mongodb: got "a section with no keys", expected no such key/,
    /^paceline\.ini: \[main\]\.max_delay: got "forever", expected a duration/,
    /^paceline\.yaml: extra: got true, expected no such key/,
    /^paceline\.yaml: providers\.microsoft365\.limits\.rate: got "10\/fortnight", expected a period of s, min, h or day/,
    /^paceline\.yaml: providers\.microsoft365\.limits\.concurrency: got 0, expected a whole number ≥ 1 or "unlimited"/,
    /^paceline\.yaml: providers\.mine\.mx: got nothing, expected a list of MX host suffixes/,
    /^paceline\.yaml: defaults\.limits\.per_day: got "lots", expected a whole number/,
    /^paceline\.yaml: sources\.a\.address: got "127\.0\.0\.300", expected an IPv4 or IPv6 address/,
    /^paceline\.yaml: sources\.a\.helo: got "not a host", expected a fully qualified host name/,
    /^paceline\.yaml: sources\.b\.colour: got "blue", expected no such key/,
    /^paceline\.yaml: pools\.default\.sources\[1\]: got "nope", expected a source name/,
    /^paceline\.yaml: pools\.default\.sources\[3\]: got "b", expected a source name listed once/,
    /^paceline\.yaml: pools\.empty\.sources: got \[\], expected a non-empty list/,
  ];
  for (const re of want)
    t.ok(
      got.some((line) => re.test(line)),
      `reports ${re}`,
    );
  t.equal(got.length, want.length + 1, `nothing else but pools.default.sources[0] (a is invalid): ${got.join('\n')}`);
});

t.test('cross-file checks', async (t) => {
  t.match(problems({ main: { default_pool: 'bulk' } }, {}), [
    /\[main\]\.default_pool: got "bulk", expected a pool defined in paceline\.yaml/,
  ]);
  t.match(problems({ main: { store: 'mongodb' } }, {}), [
    /\[main\]\.store: got "mongodb", expected "memory" or "redis"/,
  ]);
  t.match(problems({ main: { store: 'redis' } }, {}), [
    /\[redis\]: got "none", expected exactly one of url, sentinel_name \(with sentinels\) or cluster/,
  ]);
  t.match(
    problems(
      { main: { store: 'redis' }, redis: { url: 'http://x', on_store_error: 'panic', command_timeout: '1m' } },
      {},
    ),
    [
      /\[redis\]\.url: got "http:\/\/x", expected a URL starting with redis:\/\//,
      /\[redis\]\.on_store_error: got "panic", expected local, delay or allow/,
      /\[redis\]\.command_timeout: got "1m", expected at most 10s/,
    ],
  );
  t.match(problems({ main: { store: 'redis' }, redis: { sentinel_name: 'm', sentinels: 'a:1,b' } }, {}), [
    /\[redis\]\.sentinels: got "b", expected host:port/,
  ]);
  const ok = buildConfig(
    { main: { store: 'redis' }, redis: { url: 'rediss://u:secret@r.example:6380/2', cluster_size: '3' } },
    {},
  );
  t.match(ok.settings.redis, {
    prefix: 'paceline:',
    clusterSize: 3,
    onStoreError: 'local',
    connection: { url: 'rediss://u:secret@r.example:6380/2', tls: true, commandTimeoutMs: 500 },
  });
  const { describeRedis } = await import('../../lib/config/redis-settings');
  t.notMatch(describeRedis(ok.settings.redis!), /secret/, 'secrets never in logs');
  const shared = {
    sources: { a: { address: '127.0.0.2' } },
    pools: { default: { sources: ['a'] }, x: { sources: ['a'], limits: { '*': { rate: '1/s' } } } },
  };
  t.match(problems({}, shared), [
    /pools\.x\.limits: .*expected the same limits as pool "default", which shares source "a"/,
  ]);
  t.match(problems({}, { sources: { a: { address: '127.0.0.2', limits: { gmail: { rate: '1/s' } } } } }), [
    /sources\.a\.limits\.gmail: .*expected a known provider name or "\*"/,
  ]);
});

t.test('syntax errors come with line numbers', async (t) => {
  t.match(yamlSyntax('a: 1\nb: [1,\n'), [{ where: /line \d/, expected: 'valid YAML' }]);
  t.match(yamlSyntax('a: 1\na: 2\n'), [{ where: 'line 2' }], 'duplicate keys are errors');
  t.same(yamlSyntax('a: 1\n'), []);
  t.same(iniSyntax('; c\n[main]\nx=1\n\n'), []);
  t.match(iniSyntax('[main]\nmax_delay 72h\n'), [{ where: 'line 2', text: 'max_delay 72h' }]);
});

t.test('pool header policy: safe defaults, pool lists checked against paceline.yaml', async (t) => {
  const c = buildConfig({}, good);
  t.same(
    c.settings.poolHeaderFrom,
    { authenticated: '*', unauthenticated: [] },
    'by default only an authenticated client may choose',
  );
  const listed = buildConfig(
    { main: { pool_header_unauthenticated: 'bulk, default', pool_header_authenticated: '' } },
    good,
  );
  t.same(listed.settings.poolHeaderFrom, { authenticated: [], unauthenticated: ['bulk', 'default'] });
  t.same(problems({ main: { pool_header_unauthenticated: 'bulk,vip' } }, good), [
    'paceline.ini: [main].pool_header_unauthenticated: got "vip", expected a pool defined in paceline.yaml (pools: default, bulk)',
  ]);
  t.match(problems({ main: { pool_header_authenticated: 'bu lk' } }, good), [
    /pool_header_authenticated.*"\*", or pool names separated by commas/,
  ]);
});

t.test('[sources] down_after and down_for', async (t) => {
  const c = buildConfig({}, good);
  t.equal(c.settings.sourceDownAfter, 3);
  t.equal(c.settings.sourceDownMs, 300_000);
  const d = buildConfig({ sources: { down_after: '5', down_for: '90s' } }, good);
  t.equal(d.settings.sourceDownAfter, 5);
  t.equal(d.settings.sourceDownMs, 90_000);
  t.match(problems({ sources: { down_after: '0', down_for: 'soon' } }, good), [/down_after/, /down_for/]);
});

t.test('keys haraka-config would drop (__proto__, constructor, prototype) are errors, not silently lost', async (t) => {
  const expected = /a name other than __proto__, constructor or prototype/;
  t.match(yamlSyntax('pools:\n  __proto__: { sources: [a] }\nproviders:\n  x:\n    constructor: 1\n'), [
    { where: 'line 2', text: '__proto__', expected },
    { where: 'line 5', text: 'constructor', expected },
  ]);
  t.match(iniSyntax('[main]\nprototype=1\nconstructor[]=2\n'), [
    { where: 'line 2', text: 'prototype' },
    { where: 'line 3', text: 'constructor' },
  ]);
  t.same(
    yamlSyntax('sources:\n  proto: { address: 127.0.0.2 }\n  my__proto__x: {}\n'),
    [],
    'names that merely contain them are fine',
  );
});

t.test('[memory] max_idle_lanes: a whole number ≥ 1, default 100000; unknown keys refused', async (t) => {
  t.equal(buildConfig({}, good).settings.memory.maxIdleLanes, 100_000, 'default');
  t.equal(buildConfig({ memory: { max_idle_lanes: '2500' } }, good).settings.memory.maxIdleLanes, 2500);
  for (const bad of ['0', '-5', '1.5', 'lots', '']) {
    t.match(
      problems({ memory: { max_idle_lanes: bad } }, good),
      [/\[memory\]\.max_idle_lanes: got .*, expected a whole number ≥ 1/],
      `"${bad}" refused`,
    );
  }
  t.match(
    problems({ memory: { max_lanes: '10' } }, good),
    [/\[memory\]\.max_lanes: .*expected/],
    'an unknown key in [memory] is an error',
  );
  const running = buildConfig({}, good);
  t.ok(
    storeChanged(buildConfig({ memory: { max_idle_lanes: '10' } }, good), running),
    'a reload that changes it says it takes effect at restart',
  );
  t.notOk(storeChanged(buildConfig({}, good), running), 'an unchanged one does not');
});

t.test('renamed keys: the old name still works, with one warning naming the new key', async (t) => {
  const fresh = buildConfig(
    { main: { max_delay: '2h' }, adapt: { same_event_window: '3s', trial_interval: '2h' } },
    good,
  );
  t.same(fresh.warnings, [], 'the new names warn about nothing');
  const old = buildConfig({ main: { max_hold: '2h' }, adapt: { hold: '3s', probe_interval: '2h' } }, good);
  t.equal(old.settings.maxDelayMs, 7_200_000, 'max_hold sets max_delay');
  t.equal(old.settings.adapt.react.sameEventMs, 3000, 'hold sets same_event_window');
  t.equal(old.settings.adapt.policy.trialIntervalMs, 7_200_000, 'probe_interval sets trial_interval');
  t.same(old.settings, fresh.settings, 'the same settings as the new names give');
  t.same(old.warnings, [
    'paceline.ini: [main] max_hold is deprecated: use max_delay',
    'paceline.ini: [adapt] hold is deprecated: use same_event_window',
    'paceline.ini: [adapt] probe_interval is deprecated: use trial_interval',
  ]);
  // haraka-config merges the shipped file (new names) under the operator's (old names): the old one wins
  const merged = buildConfig({ main: { max_delay: '72h', max_hold: '1h' } }, good);
  t.equal(merged.settings.maxDelayMs, 3_600_000, "the operator's old key wins over the shipped new one");
  t.match(problems({ main: { max_hold: 'soon' } }, good), [
    /^paceline\.ini: \[main\]\.max_delay \(set as the deprecated max_hold\): got "soon", expected a duration/,
  ]);
});
