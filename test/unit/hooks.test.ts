/** The Haraka adapter, called as Haraka calls it, with plain fake hmail objects. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import constants from 'haraka-constants';
import * as plugin from '../../plugins/paceline';
import { packageRoot } from '../../lib/config/package-root';
import type { HMail } from '../../lib/haraka/types';
import http from 'node:http';
import { freePort } from '../helpers/ports';
import { parseExposition, total } from '../helpers/prom';

const YAML = `
sources:
  a: { address: 127.0.0.2, helo: a.example.test }
  b: { address: 127.0.0.3, helo: b.example.test }
pools:
  default: { sources: [a, b] }
  solo: { sources: [b] }
providers:
  microsoft365: { limits: { rate: "1/h", concurrency: unlimited } }
static_mx:
  contoso.test:
    - { host: contoso-test.mail.protection.outlook.com, address: 127.0.0.1, port: 2600 }
  other.test:
    - { host: mx.other.test, address: 127.0.0.1, port: 2601 }
`;

interface Reply {
  code?: number;
  msg?: unknown;
}

function makePlugin(yaml = YAML, ini = '[main]\nmax_delay=1h\n', smtp = 'nodes=0\n') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-hooks-'));
  fs.mkdirSync(path.join(dir, 'config'));
  fs.writeFileSync(path.join(dir, 'config', 'paceline.yaml'), yaml);
  fs.writeFileSync(path.join(dir, 'config', 'paceline.ini'), ini);
  fs.writeFileSync(path.join(dir, 'config', 'smtp.ini'), smtp);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const hc = require('haraka-config');
  const logs: string[] = [];
  const log = (...args: unknown[]) => logs.push(args.filter((a) => typeof a === 'string').join(' '));
  const self = {
    config: hc.module_config(packageRoot(), dir),
    loginfo: log,
    lognotice: log,
    logwarn: log,
    logerror: log,
    logcrit: log,
    register_hook() {},
  } as Record<string, unknown>;
  for (const [name, fn] of Object.entries(plugin)) if (typeof fn === 'function') self[name] = fn;
  (self.register as () => void).call(self);
  return { self, logs, dir };
}

/** Calls a hook and resolves with what it answered through next(). */
function call(self: Record<string, unknown>, hook: string, ...args: unknown[]): Promise<Reply> {
  return new Promise((resolve) => {
    let answered = false;
    const next = (code?: number, msg?: unknown) => {
      if (answered) throw new Error(`${hook} answered twice`);
      answered = true;
      resolve({ code, msg });
    };
    (self[hook] as (...a: unknown[]) => void).call(self, next, ...args);
  });
}

let n = 0;
function hmail(domain: string, opts: { queueTime?: number; pool?: string } = {}): HMail {
  n += 1;
  return {
    todo: {
      uuid: `U${n}`,
      domain,
      queue_time: opts.queueTime ?? Date.now(),
      notes: opts.pool ? { paceline_pool: opts.pool } : {},
      rcpt_to: [{ original: `<u${n}@${domain}>` }],
    },
  };
}

t.test('send, then get_mx returns the MX bound to the chosen source', async (t) => {
  const { self } = makePlugin();
  const h = hmail('contoso.test');
  t.same(await call(self, 'hook_send_email', h), { code: undefined, msg: undefined }, 'CONT: deliver now');
  const mx = await call(self, 'hook_get_mx', h, 'contoso.test');
  t.equal(mx.code, constants.ok);
  t.match(mx.msg, [
    { exchange: '127.0.0.1', port: 2600, bind: /^127\.0\.0\.[23]$/, bind_helo: /^[ab]\.example\.test$/ },
  ]);
  // a static_mx route to a local address is not marked as from DNS: Haraka would skip it (local_mx_ok)
  t.notOk('from_dns' in ((mx.msg as object[])[0] as object), 'no from_dns on a local static_mx entry');
});

/** A DELAY/DENYSOFT message as paceline answers it: whole seconds ≥ 1 as a decimal string (a number makes Haraka log an ERROR). */
function seconds(msg: unknown): number {
  return typeof msg === 'string' && /^[1-9]\d*$/.test(msg) ? Number(msg) : NaN;
}

t.test('no budget: DELAY with a whole number of seconds, as a string', async (t) => {
  const { self } = makePlugin();
  const replies: Reply[] = [];
  for (let i = 0; i < 4; i++) replies.push(await call(self, 'hook_send_email', hmail('contoso.test')));
  t.same(
    replies.slice(0, 2).map((r) => r.code),
    [undefined, undefined],
  );
  for (const r of replies.slice(2)) {
    t.equal(r.code, constants.delay);
    t.ok(
      seconds(r.msg) >= 1 && seconds(r.msg) <= 3600,
      `delay ${JSON.stringify(r.msg)} is a decimal string of whole seconds ≤ max_delay`,
    );
  }
});

t.test(
  'a throttle reply: deferred answers DENYSOFT with the seconds until the lane reopens, as a string',
  async (t) => {
    const { self } = makePlugin(
      YAML.replace('"1/h"', '"100/s"'),
      '[main]\nmax_delay=1h\n[adapt]\nthrottle_pause=30s\n',
    );
    const h = hmail('contoso.test');
    t.same((await call(self, 'hook_send_email', h)).code, undefined);
    t.equal((await call(self, 'hook_get_mx', h, 'contoso.test')).code, constants.ok);
    const err = 'Upstream error: 451 4.7.500 Server busy. Please try again later from [127.0.0.2]. (AS843)';
    const r = await call(self, 'hook_deferred', h, { delay: 60, err });
    t.equal(r.code, constants.denysoft);
    t.ok(
      seconds(r.msg) >= 25 && seconds(r.msg) <= 31,
      `retry in ${JSON.stringify(r.msg)} s: the 30 s pause, as a string`,
    );
  },
);

t.test('every outcome releases the lane', async (t) => {
  for (const outcome of ['hook_delivered', 'hook_deferred', 'hook_bounce']) {
    const { self } = makePlugin(YAML.replace('concurrency: unlimited', 'concurrency: 1').replace('"1/h"', 'unlimited'));
    const first = hmail('contoso.test', { pool: 'solo' });
    t.same((await call(self, 'hook_send_email', first)).code, undefined);
    t.equal(
      (await call(self, 'hook_send_email', hmail('contoso.test', { pool: 'solo' }))).code,
      constants.delay,
      'lane full',
    );
    const args =
      outcome === 'hook_bounce'
        ? [first, new Error('x')]
        : outcome === 'hook_deferred'
          ? [first, { delay: 60, err: 'x' }]
          : [first, []];
    t.same(await call(self, outcome, ...args), { code: undefined, msg: undefined }, `${outcome} answers CONT`);
    t.equal(
      (await call(self, 'hook_send_email', hmail('contoso.test', { pool: 'solo' }))).code,
      undefined,
      `${outcome} freed the slot`,
    );
  }
});

t.test('max_delay: DENY at get_mx, then the bounce says pacing delayed it (5.4.7)', async (t) => {
  const { self } = makePlugin();
  await call(self, 'hook_send_email', hmail('contoso.test'));
  await call(self, 'hook_send_email', hmail('contoso.test'));
  const old = hmail('contoso.test', { queueTime: Date.now() - 2 * 3_600_000 });
  t.same((await call(self, 'hook_send_email', old)).code, undefined);
  const mx = await call(self, 'hook_get_mx', old, 'contoso.test');
  t.equal(mx.code, constants.deny);
  const err = new Error('No MX for contoso.test');
  await call(self, 'hook_bounce', old, err);
  t.match(err.message, /paceline delayed this message longer than max_delay/);
  t.match(old.todo.rcpt_to[0], { dsn_status: '5.4.7', dsn_action: 'failed', dsn_msg: /max_delay/ });
});

t.test('a failing store never loses the message: DELAY and log', async (t) => {
  const { self, logs } = makePlugin();
  const state = self.paceline as { engine: { decide: () => Promise<never> } };
  state.engine.decide = () => Promise.reject(new Error('store down'));
  const r = await call(self, 'hook_send_email', hmail('contoso.test'));
  t.same(r, { code: constants.delay, msg: '60' });
  t.ok(logs.some((l) => /could not decide \(store down\)/.test(l)));
});

function headerConn(header: string, notes: Record<string, unknown>, auth?: string) {
  const removed: string[] = [];
  const transaction = {
    notes,
    header: { get: () => header, get_all: () => [header] },
    remove_header: (h: string) => removed.push(h),
  };
  return { removed, notes, conn: { transaction, notes: auth ? { auth_user: auth } : {} } };
}

t.test('the pool header becomes a note and is removed; a plugin note wins', async (t) => {
  const { self } = makePlugin();
  const a = headerConn('solo\n', {}, 'alice');
  await call(self, 'hook_data_post', a.conn);
  t.equal(a.notes.paceline_pool, 'solo', 'an authenticated client may name any pool by default');
  t.same(a.removed, ['X-Paceline-Pool']);
  const b = headerConn('solo', { paceline_pool: 'vip' }, 'alice');
  await call(self, 'hook_data_post', b.conn);
  t.equal(b.notes.paceline_pool, 'vip');
  t.same(b.removed, ['X-Paceline-Pool'], 'removed either way');
});

t.test('by default an unauthenticated client cannot choose the pool: default pool, one warning', async (t) => {
  const { self, logs } = makePlugin();
  const c = headerConn('solo', {});
  await call(self, 'hook_data_post', c.conn);
  t.equal(c.notes.paceline_pool, undefined, 'no note: the default pool');
  t.same(c.removed, ['X-Paceline-Pool'], 'the header is removed anyway');
  const warned = logs.filter((l) => /X-Paceline-Pool/.test(l));
  t.equal(warned.length, 1, 'one warning');
  t.match(
    warned[0],
    /pool "solo" may not be chosen by an unauthenticated client \(\[main\] pool_header_unauthenticated\); using the default pool "default"/,
  );
});

t.test('pool_header_unauthenticated and pool_header_authenticated list the pools each may name', async (t) => {
  const { self, logs } = makePlugin(
    YAML,
    '[main]\npool_header_unauthenticated=solo\npool_header_authenticated=default\n',
  );
  const open = headerConn('solo', {});
  await call(self, 'hook_data_post', open.conn);
  t.equal(open.notes.paceline_pool, 'solo', 'a listed pool is honoured without AUTH');
  const auth = headerConn('solo', {}, 'alice');
  await call(self, 'hook_data_post', auth.conn);
  t.equal(auth.notes.paceline_pool, undefined, 'an authenticated client is held to its own list');
  t.match(
    logs.join('\n'),
    /pool "solo" may not be chosen by an authenticated client \(\[main\] pool_header_authenticated\)/,
  );
});

t.test('an unknown or hostile pool header is ignored with one bounded, escaped warning', async (t) => {
  const { self, logs } = makePlugin();
  const hostile = `${'\u0000\u001b[2J'.repeat(20)}${'p'.repeat(10_240)}`;
  const c = headerConn(hostile, {}, 'alice');
  await call(self, 'hook_data_post', c.conn);
  t.equal(c.notes.paceline_pool, undefined);
  const warned = logs.filter((l) => /X-Paceline-Pool/.test(l));
  t.equal(warned.length, 1, 'one warning');
  const line = warned[0] as string;
  t.notMatch(line, /[\u0000-\u001f\u007f]/, 'no control character reaches the line');
  t.match(
    line,
    /unknown pool "(\\x00\\x1b\[2J)+[^"]{0,24}…\[10276 more chars\]"; using the default pool "default"/,
    'cut after 64 chars',
  );
  t.ok(line.length < 600, `the line is bounded: ${line.length} chars for a ${hostile.length}-char header`);
});

t.test('memory store refuses Haraka cluster mode with several workers', async (t) => {
  t.throws(() => makePlugin(YAML, '', 'nodes=4\n'), /nodes=4 starts 4 workers.*nodes=0 or nodes=1.*store=redis/);
  const one = makePlugin(YAML, '', 'nodes=1\n');
  t.ok(
    one.logs.some((l) => /master process, the workers pace/.test(l)),
    'one worker is fine; the master (this test process) leaves pacing to it',
  );
  t.same(
    await call(one.self, 'hook_send_email', hmail('contoso.test')),
    { code: undefined, msg: undefined },
    'a master answers CONT if ever asked',
  );
});

t.test('a renamed key in paceline.ini: one warning naming the new key, and its value is used', async (t) => {
  const { self, logs } = makePlugin(YAML, '[main]\nmax_hold=2h\n[adapt]\nhold=3s\n');
  const state = self.paceline as { engine: { current: { settings: { maxDelayMs: number } } } };
  t.equal(state.engine.current.settings.maxDelayMs, 7_200_000, 'max_hold still sets the longest delay');
  t.same(
    logs.filter((l) => /deprecated/.test(l)),
    [
      'paceline: paceline.ini: [main] max_hold is deprecated: use max_delay',
      'paceline: paceline.ini: [adapt] hold is deprecated: use same_event_window',
    ],
    'one warning per old key',
  );
});

t.test('a reload swaps a valid config and keeps the running one on an invalid edit', async (t) => {
  const { self, logs, dir } = makePlugin();
  const state = self.paceline as { engine: { current: { settings: { maxDelayMs: number } } } };
  const before = state.engine.current;
  const waitLog = async (re: RegExp) => {
    // haraka-config waits 5 s for a file to settle before it reloads it
    for (let i = 0; i < 300 && !logs.some((l) => re.test(l)); i++) await new Promise((r) => setTimeout(r, 50));
    return logs.some((l) => re.test(l));
  };
  fs.writeFileSync(path.join(dir, 'config', 'paceline.yaml'), 'sources:\n  a: { address: 999.1.1.1 }\n');
  t.ok(await waitLog(/NOT reloaded.*sources\.a\.address: got "999\.1\.1\.1"/), 'says why');
  t.equal(state.engine.current, before, 'running config kept');
  fs.writeFileSync(path.join(dir, 'config', 'paceline.ini'), '[main]\nmax_delay=2h\n');
  fs.writeFileSync(path.join(dir, 'config', 'paceline.yaml'), YAML);
  t.ok(await waitLog(/config reloaded/), 'valid edit applied');
  t.equal(state.engine.current.settings.maxDelayMs, 7_200_000);
  const good = state.engine.current;
  fs.writeFileSync(path.join(dir, 'config', 'paceline-warmup.yaml'), 'schedules:\n  s: { days: [10, 5] }\n');
  t.ok(
    await waitLog(/NOT reloaded.*paceline-warmup\.yaml: schedules\.s\.days\[1\]: got 5/),
    'a broken schedule is refused, with the reason',
  );
  t.equal(state.engine.current, good, 'and the running config kept');
});

t.test(
  '"Tried all MXs" counts against the source: logged, marked down, written for status, back after a delivery',
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-hooks-sources-'));
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    process.env.HARAKA = dir;
    const { self, logs } = makePlugin(YAML, '[main]\nmax_delay=1h\n[sources]\ndown_after=2\ndown_for=1h\n');
    delete process.env.HARAKA;
    t.teardown(() => (self.shutdown as () => void).call(self));
    const file = path.join(dir, `paceline-sources-${process.pid}.json`);
    const attempt = async (result: 'unreached' | 'delivered') => {
      const h = hmail('other.test', { pool: 'solo' });
      t.equal((await call(self, 'hook_send_email', h)).code, undefined, 'sent');
      await call(self, 'hook_get_mx', h, 'other.test');
      if (result === 'delivered') return call(self, 'hook_delivered', h, []);
      return call(self, 'hook_deferred', h, { delay: 5, err: 'Tried all MXs' });
    };
    t.same(
      await attempt('unreached'),
      { code: constants.denysoft, msg: 2 },
      'back in 2 s: a, in pool default with b, is up',
    );
    t.match(
      logs.join('\n'),
      /paceline: source b reached no MX host for other\.test \(no connection to any MX host\), 1 in a row/,
    );
    t.notMatch(logs.join('\n'), /paceline reply on b\//, 'not classified as a reply');
    await attempt('unreached');
    t.match(
      logs.join('\n'),
      /paceline: source b marked down until \S+ \(3600s\) after 2 attempts in a row reached no MX host: no connection to any MX host; its pools send from their other sources/,
    );
    t.match(
      JSON.parse(fs.readFileSync(file, 'utf8')),
      { pid: process.pid, sources: [{ source: 'b', state: 'down', failures: 2 }] },
      'written for status at once',
    );
    await attempt('delivered'); // solo has only b: a pool whose every source is down still sends
    t.match(logs.join('\n'), /paceline: source b reached an MX host again; it is back in its pools/);
    t.match(JSON.parse(fs.readFileSync(file, 'utf8')), { sources: [] });
    (self.shutdown as () => void).call(self);
    t.notOk(fs.existsSync(file), 'removed when the process stops');
  },
);

t.test(
  '[metrics] with one process: the plugin serves GET /metrics; a reload that moves it warns and keeps it where it is',
  async (t) => {
    const port = await freePort();
    const { self, logs, dir } = makePlugin(YAML, `[main]\nmax_delay=1h\n[metrics]\nlisten=127.0.0.1:${port}\n`);
    t.teardown(() => (self.shutdown as () => void).call(self));
    const status = (p: number) =>
      new Promise<number>((resolve) => {
        http
          .get({ host: '127.0.0.1', port: p, path: '/metrics' }, (res) => (res.resume(), resolve(res.statusCode ?? 0)))
          .on('error', () => resolve(0));
      });
    const waitLog = async (re: RegExp) => {
      for (let i = 0; i < 300 && !logs.some((l) => re.test(l)); i++) await new Promise((r) => setTimeout(r, 50));
      return logs.some((l) => re.test(l));
    };
    t.ok(await waitLog(/paceline: metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/), 'logs where it listens');
    t.equal(await status(port), 200, 'the endpoint answers');
    const other = await freePort();
    fs.writeFileSync(
      path.join(dir, 'config', 'paceline.ini'),
      `[main]\nmax_delay=1h\n[metrics]\nlisten=127.0.0.1:${other}\n`,
    );
    t.ok(
      await waitLog(/\[metrics\] settings changed; they take effect when Haraka restarts/),
      'a reload that changes [metrics] warns',
    );
    t.equal(await status(port), 200, 'the endpoint stays where it was');
    t.equal(await status(other), 0, 'nothing listens on the new address');
  },
);

t.test('metrics: a decision and a delivery are counted, even when the store cannot record the outcome', async (t) => {
  const { self } = makePlugin(YAML.replace('"1/h"', 'unlimited'));
  const state = self.paceline as {
    engine: { outcome: () => Promise<never> };
    metrics: { registry: { metrics(): Promise<string> } };
  };
  const ok = { ...hmail('contoso.test'), notes: {} } as HMail;
  const lost = { ...hmail('contoso.test'), notes: {} } as HMail;
  t.same((await call(self, 'hook_send_email', ok)).code, undefined);
  t.same((await call(self, 'hook_send_email', lost)).code, undefined);
  await call(self, 'hook_delivered', ok, []);
  state.engine.outcome = () => Promise.reject(new Error('store down'));
  t.same(await call(self, 'hook_delivered', lost, []), { code: undefined, msg: undefined }, 'answers CONT');
  const text = await state.metrics.registry.metrics();
  t.match(text, /^paceline_decisions_total\{action="send",reason="free_slot"\} 2$/m, 'two send decisions');
  const f = parseExposition(text);
  t.equal(total(f, 'paceline_deliveries_total', { provider: 'microsoft365' }), 2, 'both deliveries counted');
});
