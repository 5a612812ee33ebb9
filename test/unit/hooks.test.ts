/** The Haraka adapter, called as Haraka calls it, with plain fake hmail objects. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import constants from 'haraka-constants';
import * as plugin from '../../plugins/paceline';
import { packageRoot } from '../../lib/config/load';
import type { HMail } from '../../lib/haraka-types';
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

function makePlugin(yaml = YAML, ini = '[main]\nmax_hold=1h\n', smtp = 'nodes=0\n') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-hooks-'));
  fs.mkdirSync(path.join(dir, 'config'));
  fs.writeFileSync(path.join(dir, 'config', 'paceline.yaml'), yaml);
  fs.writeFileSync(path.join(dir, 'config', 'paceline.ini'), ini);
  fs.writeFileSync(path.join(dir, 'config', 'smtp.ini'), smtp);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const hc = require('haraka-config');
  const logs: string[] = [];
  const log = (...args: unknown[]) => logs.push(args.filter((a) => typeof a === 'string').join(' '));
  const self = { config: hc.module_config(packageRoot(), dir), loginfo: log, lognotice: log, logwarn: log, logerror: log, logcrit: log, register_hook() {} } as Record<string, unknown>;
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
  t.match(mx.msg, [{ exchange: '127.0.0.1', port: 2600, from_dns: 'contoso-test.mail.protection.outlook.com', bind: /^127\.0\.0\.[23]$/, bind_helo: /^[ab]\.example\.test$/ }]);
});

t.test('no budget: DELAY with a finite whole number of seconds', async (t) => {
  const { self } = makePlugin();
  const replies: Reply[] = [];
  for (let i = 0; i < 4; i++) replies.push(await call(self, 'hook_send_email', hmail('contoso.test')));
  t.same(replies.slice(0, 2).map((r) => r.code), [undefined, undefined]);
  for (const r of replies.slice(2)) {
    t.equal(r.code, constants.delay);
    t.ok(Number.isInteger(r.msg) && (r.msg as number) >= 1 && (r.msg as number) <= 3600, `delay ${String(r.msg)} is finite and ≤ max_hold`);
  }
});

t.test('every outcome releases the lane', async (t) => {
  for (const outcome of ['hook_delivered', 'hook_deferred', 'hook_bounce']) {
    const { self } = makePlugin(YAML.replace('concurrency: unlimited', 'concurrency: 1').replace('"1/h"', 'unlimited'));
    const first = hmail('contoso.test', { pool: 'solo' });
    t.same((await call(self, 'hook_send_email', first)).code, undefined);
    t.equal((await call(self, 'hook_send_email', hmail('contoso.test', { pool: 'solo' }))).code, constants.delay, 'lane full');
    const args = outcome === 'hook_bounce' ? [first, new Error('x')] : outcome === 'hook_deferred' ? [first, { delay: 60, err: 'x' }] : [first, []];
    t.same(await call(self, outcome, ...args), { code: undefined, msg: undefined }, `${outcome} answers CONT`);
    t.equal((await call(self, 'hook_send_email', hmail('contoso.test', { pool: 'solo' }))).code, undefined, `${outcome} freed the slot`);
  }
});

t.test('max_hold: DENY at get_mx, then the bounce says pacing held it (5.4.7)', async (t) => {
  const { self } = makePlugin();
  await call(self, 'hook_send_email', hmail('contoso.test'));
  await call(self, 'hook_send_email', hmail('contoso.test'));
  const old = hmail('contoso.test', { queueTime: Date.now() - 2 * 3_600_000 });
  t.same((await call(self, 'hook_send_email', old)).code, undefined);
  const mx = await call(self, 'hook_get_mx', old, 'contoso.test');
  t.equal(mx.code, constants.deny);
  const err = new Error('No MX for contoso.test');
  await call(self, 'hook_bounce', old, err);
  t.match(err.message, /paceline held this message longer than max_hold/);
  t.match(old.todo.rcpt_to[0], { dsn_status: '5.4.7', dsn_action: 'failed', dsn_msg: /max_hold/ });
});

t.test('a failing store never loses the message: DELAY and log', async (t) => {
  const { self, logs } = makePlugin();
  const state = self.paceline as { engine: { decide: () => Promise<never> } };
  state.engine.decide = () => Promise.reject(new Error('store down'));
  const r = await call(self, 'hook_send_email', hmail('contoso.test'));
  t.same(r, { code: constants.delay, msg: 60 });
  t.ok(logs.some((l) => /could not decide \(store down\)/.test(l)));
});

t.test('the pool header becomes a note and is removed; a plugin note wins', async (t) => {
  const { self } = makePlugin();
  const mk = (header: string, notes: Record<string, unknown>) => {
    const removed: string[] = [];
    return { removed, conn: { transaction: { notes, header: { get: () => header, get_all: () => [header] }, remove_header: (h: string) => removed.push(h) } } };
  };
  const a = mk('bulk\n', {});
  await call(self, 'hook_data_post', a.conn);
  t.equal(a.conn.transaction.notes.paceline_pool, 'bulk');
  t.same(a.removed, ['X-Paceline-Pool']);
  const b = mk('bulk', { paceline_pool: 'vip' });
  await call(self, 'hook_data_post', b.conn);
  t.equal(b.conn.transaction.notes.paceline_pool, 'vip');
  t.same(b.removed, ['X-Paceline-Pool'], 'removed either way');
});

t.test('memory store refuses Haraka cluster mode with several workers', async (t) => {
  t.throws(() => makePlugin(YAML, '', 'nodes=4\n'), /nodes=4 starts 4 workers.*nodes=0 or nodes=1.*store=redis/);
  const one = makePlugin(YAML, '', 'nodes=1\n');
  t.ok(one.logs.some((l) => /master process, the workers pace/.test(l)), 'one worker is fine; the master (this test process) leaves pacing to it');
  t.same(await call(one.self, 'hook_send_email', hmail('contoso.test')), { code: undefined, msg: undefined }, 'a master answers CONT if ever asked');
});

t.test('a reload swaps a valid config and keeps the running one on an invalid edit', async (t) => {
  const { self, logs, dir } = makePlugin();
  const state = self.paceline as { engine: { current: { settings: { maxHoldMs: number } } } };
  const before = state.engine.current;
  const waitLog = async (re: RegExp) => {
    // haraka-config waits 5 s for a file to settle before it reloads it
    for (let i = 0; i < 300 && !logs.some((l) => re.test(l)); i++) await new Promise((r) => setTimeout(r, 50));
    return logs.some((l) => re.test(l));
  };
  fs.writeFileSync(path.join(dir, 'config', 'paceline.yaml'), 'sources:\n  a: { address: 999.1.1.1 }\n');
  t.ok(await waitLog(/NOT reloaded.*sources\.a\.address: got "999\.1\.1\.1"/), 'says why');
  t.equal(state.engine.current, before, 'running config kept');
  fs.writeFileSync(path.join(dir, 'config', 'paceline.ini'), '[main]\nmax_hold=2h\n');
  fs.writeFileSync(path.join(dir, 'config', 'paceline.yaml'), YAML);
  t.ok(await waitLog(/config reloaded/), 'valid edit applied');
  t.equal(state.engine.current.settings.maxHoldMs, 7_200_000);
  const good = state.engine.current;
  fs.writeFileSync(path.join(dir, 'config', 'paceline-warmup.yaml'), 'schedules:\n  s: { days: [10, 5] }\n');
  t.ok(await waitLog(/NOT reloaded.*paceline-warmup\.yaml: schedules\.s\.days\[1\]: got 5/), 'a broken schedule is refused, with the reason');
  t.equal(state.engine.current, good, 'and the running config kept');
});

t.test('[metrics] with one process: the plugin serves GET /metrics; a reload that moves it warns and keeps it where it is', async (t) => {
  const port = await freePort();
  const { self, logs, dir } = makePlugin(YAML, `[main]\nmax_hold=1h\n[metrics]\nlisten=127.0.0.1:${port}\n`);
  t.teardown(() => (self.shutdown as () => void).call(self));
  const status = (p: number) =>
    new Promise<number>((resolve) => {
      http.get({ host: '127.0.0.1', port: p, path: '/metrics' }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', () => resolve(0));
    });
  const waitLog = async (re: RegExp) => {
    for (let i = 0; i < 300 && !logs.some((l) => re.test(l)); i++) await new Promise((r) => setTimeout(r, 50));
    return logs.some((l) => re.test(l));
  };
  t.ok(await waitLog(/paceline: metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/), 'logs where it listens');
  t.equal(await status(port), 200, 'the endpoint answers');
  const other = await freePort();
  fs.writeFileSync(path.join(dir, 'config', 'paceline.ini'), `[main]\nmax_hold=1h\n[metrics]\nlisten=127.0.0.1:${other}\n`);
  t.ok(await waitLog(/\[metrics\] settings changed; they take effect when Haraka restarts/), 'a reload that changes [metrics] warns');
  t.equal(await status(port), 200, 'the endpoint stays where it was');
  t.equal(await status(other), 0, 'nothing listens on the new address');
});

t.test('metrics: a decision and a delivery are counted, even when the store cannot record the outcome', async (t) => {
  const { self } = makePlugin(YAML.replace('"1/h"', 'unlimited'));
  const state = self.paceline as { engine: { outcome: () => Promise<never> }; metrics: { registry: { metrics(): Promise<string> } } };
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
