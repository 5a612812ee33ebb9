/**
 * paceline for Haraka: an adapter only. Each hook turns Haraka's call into an
 * engine call and the engine's answer into Haraka's reply. Every hook answers
 * exactly once and catches everything: Haraka ends the process on a rejected
 * promise, and a lost `next` would stall the message for the plugin timeout.
 */

import cluster from 'node:cluster';
import constants from 'haraka-constants';
import { loadConfig, type HarakaConfigReader } from '../lib/config/load';
import { delaySeconds, Engine, type Decision, type Ticket } from '../lib/engine';
import type { Connection, HMail, Next } from '../lib/haraka-types';
import { MxResolver } from '../lib/mx';
import { pluginClock } from '../lib/clock';
import { describeConfig, markExpired, memoryInClusterMode, messageOf, mxEntries, oneLine, replyOf, storeChanged, workerCount } from '../lib/plugin-core';
import { openStore, persistMemory, startSnapshots } from '../lib/plugin-store';
import { MemoryStore } from '../lib/store/memory';
import type { LaneRef, PacingStore } from '../lib/store/types';

interface PluginState {
  engine: Engine;
  clock: () => number;
  store: PacingStore;
  /** With the memory store: writes its state file one last time. */
  persisted?: () => void;
  tickets: WeakMap<HMail, Ticket & { decision?: Decision }>;
}

/** The plugin object Haraka builds; our exports are copied onto it. */
interface Plugin {
  config: HarakaConfigReader;
  paceline?: PluginState;
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
  if (config.settings.store === 'memory' && workers > 1) throw new Error(memoryInClusterMode(workers));
  if (cluster.isPrimary && workers >= 1) {
    this.loginfo('paceline: master process, the workers pace outbound mail');
    return;
  }
  const clock = pluginClock();
  const log = (level: string, text: string) => (level === 'error' ? this.logerror(text) : level === 'warn' ? this.logwarn(text) : this.lognotice(text));
  const { store, describe: where } = openStore(config, clock, log);
  const mx = new MxResolver({ cacheMaxMs: config.settings.dnsCacheMaxMs, negativeMs: config.settings.dnsNegativeMs, staticMx: config.staticMx }, undefined, clock);
  const dir = process.env.HARAKA;
  const persisted = store instanceof MemoryStore && dir ? persistMemory(store, dir, log) : undefined;
  this.paceline = { engine: new Engine(config, store, mx, clock), clock, store, tickets: new WeakMap(), ...(persisted ? { persisted } : {}) };
  if (store instanceof MemoryStore && dir) startSnapshots(store, dir);
  this.loginfo(`paceline ready: ${describeConfig(config)} (${where})`);
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
    if (storeChanged(config, state.engine.current)) plugin.logwarn('paceline: store settings changed; they take effect when Haraka restarts');
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

/** Takes the pool header into a transaction note (unless a plugin set one) and removes it. */
export function hook_data_post(this: Plugin, next: Next, connection: Connection): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  try {
    const txn = connection.transaction;
    const { poolHeader, poolNote } = (this.paceline as PluginState).engine.current.settings;
    if (txn && poolHeader) {
      const value = txn.header.get(poolHeader).trim();
      if (value && txn.notes[poolNote] === undefined) txn.notes[poolNote] = value;
      txn.remove_header(poolHeader);
    }
  } catch (err) {
    this.logerror(`paceline data_post: ${(err as Error).stack}`);
  }
  next();
}

export function hook_send_email(this: Plugin, next: Next, hmail: HMail): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  decideAndAnswer(this, hmail, next, 0);
}

/** Most in-process holds in a row before a message goes back to Haraka's queue. */
const MAX_HOLDS = 3;

/** Decides and answers Haraka; a booked slot less than two seconds away is waited for in-process. */
function decideAndAnswer(plugin: Plugin, hmail: HMail, next: Next, holds: number): void {
  const state = plugin.paceline as PluginState;
  const ticket = ticketOf(plugin, hmail);
  const settings = state.engine.current.settings;
  const msg = messageOf(hmail, settings.poolNote, state.clock());
  state.engine.decide(msg, ticket).then(
    (decision) => {
      ticket.decision = decision;
      if (decision.action === 'send' && !decision.relay && hmail.notes) hmail.notes[LANE_NOTE] = { source: decision.source.name, provider: decision.provider };
      if (settings.logDecisions && decision.action !== 'hold') plugin.loginfo(`paceline ${decision.action} ${msg.domain}: ${decision.why}`, hmail);
      if (decision.action === 'hold') {
        if (holds >= MAX_HOLDS) return next(constants.delay, 1);
        return void setTimeout(() => decideAndAnswer(plugin, hmail, next, holds + 1), decision.ms);
      }
      if (decision.action === 'delay') return next(constants.delay, decision.seconds);
      next();
    },
    (err: Error) => {
      delete ticket.decision;
      const overdue = state.clock() - msg.queueTime > settings.maxHoldMs;
      plugin.logerror(`paceline could not decide (${err.message}); ${overdue ? 'past max_hold, letting Haraka deliver' : 'retrying in 60s'}`, hmail);
      if (overdue) return next();
      next(constants.delay, 60);
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
      this.logwarn(`paceline: ${decision.why}`, hmail);
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
function ended(plugin: Plugin, hmail: HMail, attempt: { delivered: boolean; reply?: string }, next: Next, retry: boolean): void {
  const ticket = ticketOf(plugin, hmail);
  delete ticket.decision;
  const lane = laneOf(hmail);
  const engine = (plugin.paceline as PluginState).engine;
  engine.outcome(ticket, lane ? { ...attempt, lane } : attempt).then(
    (report) => {
      if (report?.category) {
        const what = `${report.category}${report.rule ? ` (${report.rule})` : ''} → ${report.effect}${report.incident ? ', provider-wide incident' : ''}`;
        plugin.loginfo(`paceline reply on ${report.lane.source}/${report.lane.provider}: ${what}`, hmail);
      }
      const wait = report?.reopensAt ? delaySeconds(report.reopensAt, (plugin.paceline as PluginState).clock()) : 0;
      if (retry && wait > 1) return next(constants.denysoft, wait);
      next();
    },
    (err: Error) => {
      plugin.logerror(`paceline could not record an outcome (a lease expires by itself): ${err.message}`, hmail);
      next();
    },
  );
}

export function hook_delivered(this: Plugin, next: Next, hmail: HMail): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  ended(this, hmail, { delivered: true }, next, false);
}

/** params: {delay, err, fail_recips?, mx?}; DENYSOFT with seconds sets this message's retry. */
export function hook_deferred(this: Plugin, next: Next, hmail: HMail, params: { err?: unknown; fail_recips?: [] }): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  const reply = replyOf(params?.err, params?.fail_recips);
  ended(this, hmail, reply === undefined ? { delivered: false } : { delivered: false, reply }, next, true);
}

export function hook_bounce(this: Plugin, next: Next, hmail: HMail, err: Error & { bounced_rcpt?: [] }): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  const decision = ticketOf(this, hmail).decision;
  if (decision?.action === 'expire') {
    const text = markExpired(hmail, decision.why);
    if (err) err.message = text;
    this.lognotice(`paceline bounced ${hmail.todo.domain}: ${text}`, hmail);
    return ended(this, hmail, { delivered: false }, next, false);
  }
  const reply = replyOf(err, err?.bounced_rcpt);
  ended(this, hmail, reply === undefined ? { delivered: false } : { delivered: false, reply }, next, false);
}

export function shutdown(this: Plugin): void {
  this.paceline?.persisted?.();
  this.paceline?.store.close().catch(() => undefined);
}
