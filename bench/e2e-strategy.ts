/**
 * One strategy of the end-to-end pacing benchmark: its own Haraka process and
 * its own receivers (one per provider, each driving a fresh HiddenLimiter), the
 * scenario's messages submitted at t0, and the exact accounting afterwards.
 */
import fs from 'node:fs';
import path from 'node:path';
import { limiterFor, type FamilyProviderName, type FamilyScenario } from '../sim/family';
import type { HiddenLimiter, IpCounters } from '../sim/limiter';
import { sendMany, type MailSpec } from '../test/helpers/client';
import { startHaraka, type HarakaProcess } from '../test/helpers/haraka';
import { startReceiver, type Receiver } from '../test/helpers/receiver';

export type StrategyName = 'paceline' | 'no-pacing' | 'static';
export const STRATEGIES: readonly StrategyName[] = ['paceline', 'no-pacing', 'static'];
const PROVIDERS: readonly FamilyProviderName[] = ['microsoft', 'google', 'plain'];
/** Envelope sender; its domain is routed to the plain receiver, so a bounce (DSN) stays on loopback and is counted. */
export const SENDER = 'sender@bench.test';
/** Haraka's default retry schedule for every strategy: no temp_fail_intervals. */
const OUTBOUND = '[main]\nenable_tls=false\nlocal_mx_ok=true\n';
const SUBMIT_CONCURRENCY = 10;

/** Plain Haraka plugin of the no-pacing strategy: static MX, source IPs in round robin. */
const ROTATE_PLUGIN = `'use strict'
const constants = require('haraka-constants')
let n = 0
exports.register = function () { this.cfg = this.config.get('bench_rotate.json') }
exports.hook_get_mx = function (next, hmail, domain) {
  const mx = this.cfg.mx[domain] || this.cfg.fallback
  const src = this.cfg.sources[n++ % this.cfg.sources.length]
  next(constants.ok, { exchange: '127.0.0.1', port: mx.port, priority: 10, bind: src.address, bind_helo: src.helo })
}
`;

/** One delivered message: first arrival, source, provider; later arrivals count as duplicates. */
export interface Arrival {
  readonly at: number;
  readonly address: string;
  readonly provider: FamilyProviderName;
}

/** What a strategy's run left behind, before any figures are derived. */
export interface StrategyOutcome {
  readonly name: StrategyName;
  /** first arrival per Message-ID */
  readonly arrivals: ReadonlyMap<string, Arrival>;
  /** extra arrivals of a Message-ID already delivered */
  readonly duplicates: number;
  /** DSNs that arrived for the envelope sender */
  readonly bounced: number;
  /** Message-IDs in Haraka's queue after it stopped */
  readonly queued: ReadonlySet<string>;
  /** limiter counters per provider (microsoft, google) and source address */
  readonly counters: ReadonlyMap<FamilyProviderName, ReadonlyMap<string, IpCounters>>;
  /** first submission failure, if any */
  readonly submitError?: string;
}

function sourcesYaml(s: FamilyScenario): string {
  return s.sources.map((src) => `  ${src.name}: { address: ${src.address}, helo: ${src.name}.bench.test }`).join('\n');
}

function pacelineYaml(s: FamilyScenario, ports: ReadonlyMap<FamilyProviderName, number>): string {
  const lines = [
    'sources:',
    sourcesYaml(s),
    'pools:',
    `  default: { sources: [${s.sources.map((x) => x.name).join(', ')}] }`,
    'static_mx:',
  ];
  for (const p of s.providers) {
    for (const d of p.domains)
      lines.push(`  ${d.domain}:\n    - { host: ${d.mxHost}, address: 127.0.0.1, port: ${ports.get(p.name)} }`);
  }
  lines.push(`  bench.test:\n    - { host: mx.bench.test, address: 127.0.0.1, port: ${ports.get('plain')} }`);
  return `${lines.join('\n')}\n`;
}

function rotateJson(s: FamilyScenario, ports: ReadonlyMap<FamilyProviderName, number>): string {
  const mx: Record<string, { port: number }> = {};
  for (const p of s.providers) for (const d of p.domains) mx[d.domain] = { port: ports.get(p.name) as number };
  const sources = s.sources.map((src) => ({ address: src.address, helo: `${src.name}.bench.test` }));
  return JSON.stringify({ mx, fallback: { port: ports.get('plain') }, sources });
}

function harakaFiles(
  name: StrategyName,
  s: FamilyScenario,
  ports: ReadonlyMap<FamilyProviderName, number>,
): Record<string, string> {
  const files: Record<string, string> = { 'config/outbound.ini': OUTBOUND };
  if (name === 'no-pacing') {
    files['plugins/bench_rotate.js'] = ROTATE_PLUGIN;
    files['config/bench_rotate.json'] = rotateJson(s, ports);
  } else {
    files['config/paceline.yaml'] = pacelineYaml(s, ports);
    if (name === 'static') files['config/paceline.ini'] = '[adapt]\nenabled=false\n';
  }
  return files;
}

/** Message-IDs of the messages left in a stopped Haraka's queue. */
function queuedIds(haraka: HarakaProcess): Set<string> {
  const ids = new Set<string>();
  for (const file of haraka.queueFiles()) {
    const text = fs.readFileSync(path.join(haraka.dir, 'queue', file), 'latin1');
    const m = /^Message-ID:\s*(\S+)/im.exec(text);
    ids.add(m ? (m[1] as string) : `unknown:${file}`);
  }
  return ids;
}

/** A strategy's receivers and Haraka, started and waiting for {@link StrategyRun.submit}. */
export class StrategyRun {
  private readonly limiters = new Map<FamilyProviderName, HiddenLimiter>();
  private submitError: string | undefined;
  private submitting: Promise<void> = Promise.resolve();
  /** ms from t0 until Haraka had accepted every message (undefined while submitting, or on a failure). */
  submittedMs: number | undefined;

  private constructor(
    readonly name: StrategyName,
    private readonly scenario: FamilyScenario,
    private readonly receivers: Map<FamilyProviderName, Receiver>,
    private readonly haraka: HarakaProcess,
  ) {}

  /** Starts the receivers and Haraka; the limiters start at {@link submit}. */
  static async start(name: StrategyName, s: FamilyScenario): Promise<StrategyRun> {
    const receivers = new Map<FamilyProviderName, Receiver>();
    let run: StrategyRun | undefined;
    try {
      for (const provider of PROVIDERS) {
        const limiter = (): HiddenLimiter | undefined => run?.limiters.get(provider);
        const rx = await startReceiver({
          onConnect: (c) => limiter()?.connect(c.remoteAddress, c.now, c.sessionId) ?? null,
          onClose: (c) => limiter()?.close(c.remoteAddress, c.now, c.sessionId),
          reply: (ctx) => (ctx.stage === 'mail' ? (limiter()?.mail(ctx.remoteAddress, ctx.now) ?? null) : null),
        });
        receivers.set(provider, rx);
      }
      const ports = new Map([...receivers].map(([p, rx]) => [p, rx.port]));
      const plugins = ['test_relay', name === 'no-pacing' ? 'bench_rotate' : 'paceline'];
      const haraka = await startHaraka({
        name: `bench-${name}`,
        plugins,
        files: harakaFiles(name, s, ports),
        linkPaceline: name !== 'no-pacing',
      });
      run = new StrategyRun(name, s, receivers, haraka);
      if (name !== 'no-pacing') await haraka.waitForLog(/paceline ready/, 20_000);
      return run;
    } catch (err) {
      await Promise.all([...receivers.values()].map((rx) => rx.close()));
      throw err;
    }
  }

  /** Creates the limiters with origin t0 and starts submitting every message (not awaited). */
  submit(t0: number): void {
    for (const provider of PROVIDERS) {
      const l = limiterFor(this.scenario, provider, t0);
      if (l) this.limiters.set(provider, l);
    }
    const msgs: MailSpec[] = this.scenario.messages.map((m) => ({
      from: SENDER,
      to: [m.rcpt],
      messageId: m.messageId,
    }));
    this.submitting = sendMany(this.haraka.port, msgs, SUBMIT_CONCURRENCY).then(
      () => {
        this.submittedMs = Date.now() - t0;
      },
      (err: Error) => {
        this.submitError = err.message.slice(0, 500);
      },
    );
  }

  /** Messages delivered so far (distinct Message-IDs). */
  delivered(): number {
    return this.tally().arrivals.size;
  }

  /** First arrival per Message-ID in arrival order, duplicates and DSNs to the sender. */
  private tally(): { arrivals: Map<string, Arrival>; duplicates: number; bounced: number } {
    const all = [...this.receivers].flatMap(([provider, rx]) => rx.deliveries.map((d) => ({ d, provider })));
    all.sort((a, b) => a.d.receivedAt - b.d.receivedAt);
    const arrivals = new Map<string, Arrival>();
    let duplicates = 0;
    let bounced = 0;
    for (const { d, provider } of all) {
      if (d.rcptTo.includes(SENDER)) bounced++;
      else if (arrivals.has(d.messageId)) duplicates++;
      else arrivals.set(d.messageId, { at: d.receivedAt, address: d.remoteAddress, provider });
    }
    return { arrivals, duplicates, bounced };
  }

  /** Stops Haraka (SIGTERM, SIGKILL after 5 s), then the receivers; returns the accounting. */
  async stop(): Promise<StrategyOutcome> {
    await this.haraka.stop();
    await Promise.race([this.submitting, new Promise((r) => setTimeout(r, 1000))]);
    await Promise.all([...this.receivers.values()].map((rx) => rx.close()));
    const counters = new Map([...this.limiters].map(([p, l]) => [p, l.counters()]));
    const outcome: StrategyOutcome = {
      name: this.name,
      ...this.tally(),
      queued: queuedIds(this.haraka),
      counters,
    };
    return this.submitError === undefined ? outcome : { ...outcome, submitError: this.submitError };
  }
}
