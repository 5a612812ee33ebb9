/**
 * What the Haraka adapter keeps between hooks: the plugin object Haraka builds
 * (our exports are copied onto it, so it is `this` in every hook) and the
 * pacing state register() hangs on it.
 */

import type { HarakaConfigReader } from '../config/load';
import type { Decision, Engine, Ticket } from '../engine/engine';
import type { ControlListener } from '../operator/http';
import type { PacelineMetrics } from '../metrics/metrics';
import type { MetricsListener } from '../metrics/http';
import type { WaitingMessages } from '../core/waiting';
import type { PacingStore } from '../store/types';
import type { StoreLog } from '../store/open';
import type { HeldTurns } from './held-turns';
import type { HMail } from './types';

/** A message's ticket and, between send_email and get_mx or bounce, its decision. */
export type PluginTicket = Ticket & { decision?: Decision };

/** A file or report written now and then, and stopped at shutdown. */
export type Publisher = { write(): void; stop(): void };

/** The pacing state of a process that paces (a worker, or the one process); a cluster master has none. */
export interface PluginState {
  engine: Engine;
  clock: () => number;
  store: PacingStore;
  /** With the memory store: writes its state file one last time. */
  persisted?: () => void;
  tickets: WeakMap<HMail, PluginTicket>;
  /** The per-process sources file (when Haraka runs from a directory) and, with Redis, the store report, for `paceline status`. */
  sources?: Publisher;
  control?: ControlListener;
  metrics: PacelineMetrics;
  /** The messages this process told to wait, by lane (published in the sources file and the store report). */
  waiting: WaitingMessages;
  /** Messages held for their turn on a full lane: a delivery that ends there wakes one. */
  held: HeldTurns;
}

/** The plugin object Haraka builds; our exports are copied onto it. */
export interface Plugin {
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

/** The lane a message was sent on, kept in hmail.notes so that recipients Haraka splits off keep it. */
export const LANE_NOTE = 'paceline_lane';

/** The ticket of a message object, made on first use; only for a plugin that paces (`plugin.paceline` set). */
export function ticketOf(plugin: Plugin, hmail: HMail): PluginTicket {
  const tickets = (plugin.paceline as PluginState).tickets;
  let ticket = tickets.get(hmail);
  if (!ticket) {
    ticket = {};
    tickets.set(hmail, ticket);
  }
  return ticket;
}

/** Haraka's logger by level, for the store, the leases and the control listener. */
export function levelLog(plugin: Plugin): StoreLog {
  return (level, text) =>
    level === 'error' ? plugin.logerror(text) : level === 'warn' ? plugin.logwarn(text) : plugin.lognotice(text);
}
