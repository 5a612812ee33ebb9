/**
 * paceline for Haraka: an adapter only. Each hook turns Haraka's call into an
 * engine call and the engine's answer into Haraka's reply. Every hook answers
 * exactly once and catches everything: Haraka ends the process on a rejected
 * promise, and a lost `next` would stall the message for the plugin timeout.
 */

import cluster from 'node:cluster';
import constants from 'haraka-constants';
import { loadConfig, type HarakaConfigReader } from '../lib/config/load';
import { type Decision, delaySeconds, Engine, type Ticket } from '../lib/engine/engine';
import type { Connection, HMail, Next } from '../lib/haraka/types';
import { MxResolver } from '../lib/engine/mx';
import { pluginClock } from '../lib/haraka/clock';
import { logText } from '../lib/core/log-text';
import {
  answerSeconds,
  BOOT_ENV,
  describeConfig,
  headerPool,
  leaseIdentity,
  markExpired,
  MAX_HOLDS,
  memoryInClusterMode,
  messageOf,
  mxEntries,
  oneLine,
  replyOf,
  sourceHealthLine,
  storeChanged,
  unreachedOf,
  workerCount,
} from '../lib/haraka/glue';
import { openStore, persistMemory, startSnapshots, startSourceSnapshots, type StoreLog } from '../lib/store/open';
import { startReports } from '../lib/store/reports';
import type { Attempt, OutcomeReport } from '../lib/engine/outcomes';
import { startPluginControls } from '../lib/operator/plugin-controls';
import type { ControlListener } from '../lib/operator/http';
import { newBootId, startLeases } from '../lib/engine/lease-keeper';
import { MemoryStore } from '../lib/store/memory';
import { PacelineMetrics } from '../lib/metrics/metrics';
import type { MetricsListener } from '../lib/metrics/http';
import { startClusterMetrics, startProcessMetrics } from '../lib/metrics/plugin-metrics';
import { FallbackStore } from '../lib/store/fallback';
import { WaitingMessages } from '../lib/core/waiting';
import { laneKey, type LaneRef, type PacingStore } from '../lib/store/types';
import { HeldTurns } from '../lib/haraka/held-turns';

interface PluginState {
  engine: Engine;
  clock: () => number;
  store: PacingStore;
  /** With the memory store: writes its state file one last time. */
  persisted?: () => void;
  tickets: WeakMap<HMail, Ticket & { decision?: Decision }>;
  /** The per-process sources file (when Haraka runs from a directory) and, with Redis, the store report, for `paceline status`. */
  sources?: { write(): void; stop(): void };
  control?: ControlListener;
  metrics: PacelineMetrics;
  /** The messages this process told to wait, by lane (published in the sources file and the store report). */
  waiting: WaitingMessages;
  /** Messages held for their turn on a full lane: a delivery that ends there wakes one. */
  held: HeldTurns;
}

/** The plugin object Haraka builds; our exports are copied onto it. */
interface Plugin {
  config: HarakaConfigReader;
  paceline?: PluginState;
  metricsListener?: MetricsListener;
  loginfo(...args: unknown[]): void;
  lognotice(...args: unknown[]): void;
  logwarn(...args: unknown[]): void;
  logerror(...args: unknown[]): void;
  logcrit(...args: unknown[]): void;
  register_hook(hook: string, method: string): void;
}

export function register(this: Plugin): void {
  const config = loadConfig(this.config, () => reload(this));
  const workers = workerCount(this.config);
  // the master (or the one process) says it once, not every worker
  if (cluster.isPrimary) for (const line of config.warnings) this.logwarn(`paceline: ${line}`);
  if (config.settings.store === 'memory' && workers > 1) throw new Error(memoryInClusterMode(workers));
  if (cluster.isPrimary && workers >= 1) {
    process.env[BOOT_ENV] = newBootId(); // before Haraka forks: this boot's workers share it
    this.loginfo('paceline: master process, the workers pace outbound mail');
    serveMetrics(this, startClusterMetrics(config.settings.metrics));
    return;
  }
  const clock = pluginClock();
  const log = levelLog(this);
  const dir = process.env.HARAKA;
  const { store, describe: where } = openStore(config, clock, log);
  const mx = new MxResolver(
    { cacheMaxMs: config.settings.dnsCacheMaxMs, negativeMs: config.settings.dnsNegativeMs, staticMx: config.staticMx },
    undefined,
    clock,
  );
  const me = String(this.config.get('me') ?? '').trim();
  const identity = leaseIdentity(config.settings.node, me, dir ?? process.cwd(), process.env, cluster.isWorker);
  const engine = new Engine(config, store, mx, clock, undefined, identity);
  const storeHealth =
    store instanceof FallbackStore ? () => ({ errors: store.errors, degraded: store.degraded }) : undefined;
  const metrics = new PacelineMetrics({ config: () => engine.current, store, ...(storeHealth ? { storeHealth } : {}) });
  const state: PluginState = {
    engine,
    clock,
    store,
    tickets: new WeakMap(),
    metrics,
    waiting: new WaitingMessages(),
    held: new HeldTurns(),
  };
  state.engine.controlLog = (text) => this.lognotice(text);
  const persisted = store instanceof MemoryStore && dir ? persistMemory(store, dir, log) : undefined;
  if (persisted) state.persisted = persisted;
  this.paceline = state;
  serveMetrics(this, startProcessMetrics(config.settings.metrics, metrics));
  startLeases(state.engine, log);
  const snapshots = store instanceof MemoryStore && dir ? startSnapshots(store, dir) : undefined;
  // several workers would share one socket: in cluster mode (Redis) the CLI acts through the store
  const files = dir ? startSourceSnapshots(state.engine.health, dir, clock, undefined, state.waiting) : undefined;
  // with Redis every host's status reads every process's report from the store
  const reports =
    store instanceof MemoryStore
      ? undefined
      : startReports(store, { node: identity.node, health: engine.health, waiting: state.waiting, clock });
  state.sources = both(files, reports);
  if (dir && workers <= 1) startControls(this, state, dir, snapshots?.write);
  this.loginfo(`paceline ready: ${describeConfig(config)} (${where})`);
}

type Publisher = { write(): void; stop(): void };

/** The sources file and the store report, written and stopped together. */
function both(a: Publisher | undefined, b: Publisher | undefined): Publisher | undefined {
  if (!a || !b) return a ?? b;
  return { write: () => (a.write(), b.write()), stop: () => (a.stop(), b.stop()) };
}

/** Haraka's logger by level, for the store, the leases and the control listener. */
function levelLog(plugin: Plugin): StoreLog {
  return (level, text) =>
    level === 'error' ? plugin.logerror(text) : level === 'warn' ? plugin.logwarn(text) : plugin.lognotice(text);
}

function startControls(plugin: Plugin, state: PluginState, dir: string, snapshot?: () => Promise<void>): void {
  const log = levelLog(plugin);
  startPluginControls(state.engine.current, {
    engine: state.engine,
    store: state.store,
    dir,
    log,
    ...(snapshot ? { snapshot } : {}),
  }).then(
    (listener) => {
      if (!listener) return;
      state.control = listener;
      plugin.loginfo(`paceline: operator controls listening on ${listener.where}`);
    },
    (err: Error) => plugin.logerror(`paceline: operator control listener not started: ${err.message}`),
  );
}

/** Logs where the Prometheus endpoint listens (nothing when [metrics] listen=off). */
function serveMetrics(plugin: Plugin, started: Promise<MetricsListener | undefined>): void {
  started.then(
    (listener) => {
      if (!listener) return;
      plugin.metricsListener = listener;
      plugin.loginfo(`paceline: metrics on http://${listener.where}/metrics`);
    },
    (err: Error) => plugin.logerror(`paceline: metrics endpoint not started: ${err.message}`),
  );
}

/**
 * Haraka's reload callback: swap the whole config, or keep the running one and
 * say why. It re-registers itself: haraka-config keeps only the last reader's callback.
 */
function reload(plugin: Plugin): void {
  const state = plugin.paceline;
  if (!state) return;
  try {
    const config = loadConfig(plugin.config, () => reload(plugin));
    for (const line of config.warnings) plugin.logwarn(`paceline: ${line}`);
    if (storeChanged(config, state.engine.current))
      plugin.logwarn('paceline: store settings changed; they take effect when Haraka restarts');
    const metricsChanged =
      JSON.stringify(config.settings.metrics) !== JSON.stringify(state.engine.current.settings.metrics);
    if (metricsChanged) plugin.logwarn('paceline: [metrics] settings changed; they take effect when Haraka restarts');
    state.engine.reconfigure(config);
    plugin.lognotice(`paceline config reloaded: ${describeConfig(config)}`);
  } catch (err) {
    plugin.logerror(`paceline config NOT reloaded, keeping the running one: ${oneLine(err)}`);
  }
}

function ticketOf(plugin: Plugin, hmail: HMail): Ticket & { decision?: Decision } {
  const tickets = (plugin.paceline as PluginState).tickets;
  let ticket = tickets.get(hmail);
  if (!ticket) {
    ticket = {};
    tickets.set(hmail, ticket);
  }
  return ticket;
}

/**
 * Takes the pool header into a transaction note (unless a plugin set one) when
 * the sender may name that pool (see headerPool), and removes it either way.
 */
export function hook_data_post(this: Plugin, next: Next, connection: Connection): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  try {
    const txn = connection.transaction;
    const config = (this.paceline as PluginState).engine.current;
    const { poolHeader, poolNote } = config.settings;
    if (txn && poolHeader) {
      const value = txn.header.get(poolHeader).trim();
      if (value && txn.notes[poolNote] === undefined) {
        const asked = headerPool(config, value, Boolean(connection.notes?.auth_user));
        if ('pool' in asked) txn.notes[poolNote] = asked.pool;
        else this.logwarn(`paceline: ${asked.ignored}`, connection);
      }
      txn.remove_header(poolHeader);
    }
  } catch (err) {
    this.logerror(`paceline data_post: ${logText((err as Error).stack, 2000)}`);
  }
  next();
}

export function hook_send_email(this: Plugin, next: Next, hmail: HMail): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  decideAndAnswer(this, hmail, next, 0);
}

/** Decides and answers Haraka; a booked slot less than two seconds away is waited for in-process. */
function decideAndAnswer(plugin: Plugin, hmail: HMail, next: Next, holds: number): void {
  const state = plugin.paceline as PluginState;
  const ticket = ticketOf(plugin, hmail);
  const settings = state.engine.current.settings;
  const msg = messageOf(hmail, settings.poolNote, state.clock());
  const started = process.hrtime.bigint();
  const took = () => Number(process.hrtime.bigint() - started) / 1e9;
  state.engine.decide(msg, ticket).then(
    (decision) => {
      state.metrics.decided(decision, took());
      ticket.decision = decision;
      noteWaiting(state, msg, decision, ticket);
      if (decision.action === 'send' && !decision.relay && hmail.notes)
        hmail.notes[LANE_NOTE] = { source: decision.source.name, provider: decision.provider };
      if (settings.logDecisions && decision.action !== 'hold')
        plugin.loginfo(`paceline ${decision.action} ${logText(msg.domain)}: ${logText(decision.why, 1000)}`, hmail);
      if (decision.action === 'hold') {
        if (holds >= MAX_HOLDS) return next(constants.delay, answerSeconds(1));
        const again = () => decideAndAnswer(plugin, hmail, next, holds + 1);
        const turn = decision.reason === 'concurrency' ? ticket.turn : undefined;
        if (turn) return state.held.hold(turn.lane, turn.due, decision.ms, again);
        return void setTimeout(again, decision.ms);
      }
      if (decision.action === 'delay') return next(constants.delay, answerSeconds(decision.seconds));
      next();
    },
    (err: Error) => {
      state.metrics.decided('error', took());
      delete ticket.decision;
      const overdue = state.clock() - msg.queueTime > settings.maxDelayMs;
      plugin.logerror(
        `paceline could not decide (${logText(err.message)}); ${overdue ? 'past max_delay, letting Haraka deliver' : 'retrying in 60s'}`,
        hmail,
      );
      if (overdue) return next();
      next(constants.delay, answerSeconds(60));
    },
  );
}

export function hook_get_mx(this: Plugin, next: Next, hmail: HMail): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  const decision = ticketOf(this, hmail).decision;
  switch (decision?.action) {
    case 'send':
      return next(constants.ok, mxEntries(decision));
    case 'expire':
      return next(constants.deny, decision.why);
    case 'unroutable':
      this.logwarn(`paceline: ${logText(decision.why, 1000)}`, hmail);
      return next(constants.denysoft, decision.why);
    default:
      return next();
  }
}

/** The lane a message was sent on, kept in hmail.notes so that recipients Haraka splits off keep it. */
const LANE_NOTE = 'paceline_lane';

function laneOf(hmail: HMail): LaneRef | undefined {
  const lane = hmail.notes?.[LANE_NOTE] as LaneRef | undefined;
  return lane && typeof lane.source === 'string' && typeof lane.provider === 'string' ? lane : undefined;
}

/** Records how an attempt ended; answers `next` with the lane's reopening time when a reaction closed it. */
function ended(
  plugin: Plugin,
  hmail: HMail,
  attempt: Omit<Attempt, 'lane'>,
  next: Next,
  retry: boolean,
  count = true,
): void {
  const ticket = ticketOf(plugin, hmail);
  delete ticket.decision;
  const lane = laneOf(hmail);
  const { engine, metrics, held } = plugin.paceline as PluginState;
  const freed = ticket.lease?.lane;
  engine.outcome(ticket, lane ? { ...attempt, lane } : attempt).then(
    (report) => {
      if (freed) held.wake(laneKey(freed));
      if (report && count) metrics.ended(report, attempt.delivered);
      if (report?.category) {
        const what = `${report.category}${report.rule ? ` (${report.rule})` : ''} → ${report.effect}${report.incident ? ', provider-wide incident' : ''}`;
        plugin.loginfo(`paceline reply on ${report.lane.source}/${logText(report.lane.provider)}: ${what}`, hmail);
      }
      if (report) logSourceHealth(plugin, report, hmail);
      const wait = report?.reopensAt ? delaySeconds(report.reopensAt, (plugin.paceline as PluginState).clock()) : 0;
      if (retry && wait > 1) {
        (plugin.paceline as PluginState).waiting.delayed(
          hmail.todo.uuid,
          report?.lane.provider ?? '',
          report?.lane.source ?? null,
          hmail.todo.queue_time,
        );
        return next(constants.denysoft, answerSeconds(wait));
      }
      next();
    },
    (err: Error) => {
      // counted all the same, without a category: the metrics must not lose an attempt the store could not record
      if (lane && count) metrics.ended({ lane }, attempt.delivered);
      plugin.logerror(
        `paceline could not record an outcome (a lease expires by itself): ${logText(err.message)}`,
        hmail,
      );
      next();
    },
  );
}

/** Keeps the waiting list for status: a delayed or held message waits on its lane, any other answer ends that. */
function noteWaiting(
  state: PluginState,
  msg: { id: string; queueTime: number },
  decision: Decision,
  ticket: Ticket,
): void {
  if (decision.action === 'delay' || decision.action === 'hold') {
    state.waiting.delayed(msg.id, decision.provider, ticket.reservation?.lane.source ?? null, msg.queueTime);
  } else state.waiting.gone(msg.id);
}

/** A source that reached no MX host, was marked down, or is back: one log line, and the sources file rewritten. */
function logSourceHealth(plugin: Plugin, report: OutcomeReport, hmail: HMail): void {
  const state = plugin.paceline as PluginState;
  const line = sourceHealthLine(report, hmail.todo.domain, state.clock());
  if (!line) return;
  const log = line.level === 'warn' ? plugin.logwarn : line.level === 'notice' ? plugin.lognotice : plugin.loginfo;
  log.call(plugin, line.text, hmail);
  if (line.level !== 'info') state.sources?.write();
}

export function hook_delivered(this: Plugin, next: Next, hmail: HMail): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  ended(this, hmail, { delivered: true }, next, false);
}

/** params: {delay, err, fail_recips?, mx?}; DENYSOFT with seconds sets this message's retry. */
export function hook_deferred(
  this: Plugin,
  next: Next,
  hmail: HMail,
  params: { err?: unknown; fail_recips?: [] },
): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  if (unreachedOf(params?.err, params?.fail_recips))
    return ended(this, hmail, { delivered: false, unreached: true }, next, true);
  const reply = replyOf(params?.err, params?.fail_recips);
  ended(this, hmail, reply === undefined ? { delivered: false } : { delivered: false, reply }, next, true);
}

export function hook_bounce(this: Plugin, next: Next, hmail: HMail, err: Error & { bounced_rcpt?: [] }): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  const decision = ticketOf(this, hmail).decision;
  if (decision?.action === 'expire') {
    const text = markExpired(hmail, decision.why);
    if (err) err.message = text;
    this.lognotice(`paceline bounced ${logText(hmail.todo.domain)}: ${logText(text, 1000)}`, hmail);
    return ended(this, hmail, { delivered: false, expired: true }, next, false, false); // held too long: not an attempt
  }
  if (unreachedOf(err, err?.bounced_rcpt))
    return ended(this, hmail, { delivered: false, bounced: true, unreached: true }, next, false);
  const reply = replyOf(err, err?.bounced_rcpt);
  ended(
    this,
    hmail,
    reply === undefined ? { delivered: false, bounced: true } : { delivered: false, bounced: true, reply },
    next,
    false,
  );
}

export function shutdown(this: Plugin): void {
  this.paceline?.sources?.stop();
  this.metricsListener?.close().catch(() => undefined);
  this.paceline?.control?.close().catch(() => undefined);
  this.paceline?.persisted?.();
  this.paceline?.store.close().catch(() => undefined);
}
