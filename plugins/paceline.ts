/**
 * paceline for Haraka: an adapter only. Haraka copies these exports onto its
 * plugin object (`this` in every hook); each hook hands Haraka's call to
 * lib/haraka, which turns it into an engine call and the engine's answer into
 * Haraka's reply. Every hook answers exactly once and catches everything:
 * Haraka ends the process on a rejected promise, and a lost `next` would stall
 * the message for the plugin timeout. A cluster master has no pacing state
 * (`this.paceline` unset): its hooks pass, its workers pace.
 */

import { answerMx, decideAndAnswer, takePoolHeader } from '../lib/haraka/answer';
import { bounced, deferred, delivered } from '../lib/haraka/outcome';
import { startPlugin, stopPlugin } from '../lib/haraka/startup';
import type { Plugin } from '../lib/haraka/state';
import type { Connection, HMail, Next } from '../lib/haraka/types';

/** Reads and validates the config, opens the store and starts this process's listeners and publishers. */
export function register(this: Plugin): void {
  startPlugin(this);
}

/**
 * Takes the pool header into a transaction note (unless a plugin set one) when
 * the sender may name that pool (see headerPool), and removes it either way.
 */
export function hook_data_post(this: Plugin, next: Next, connection: Connection): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  takePoolHeader(this, next, connection);
}

/** Send now, hold in-process for a slot under two seconds away, or DELAY in whole seconds. */
export function hook_send_email(this: Plugin, next: Next, hmail: HMail): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  decideAndAnswer(this, hmail, next, 0);
}

/** The MX list of the decision: addresses bound to the chosen source. */
export function hook_get_mx(this: Plugin, next: Next, hmail: HMail): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  answerMx(this, hmail, next);
}

export function hook_delivered(this: Plugin, next: Next, hmail: HMail): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  delivered(this, hmail, next);
}

/** params: {delay, err, fail_recips?, mx?}; DENYSOFT with seconds sets this message's retry. */
export function hook_deferred(
  this: Plugin,
  next: Next,
  hmail: HMail,
  params: { err?: unknown; fail_recips?: [] },
): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  deferred(this, hmail, params, next);
}

export function hook_bounce(this: Plugin, next: Next, hmail: HMail, err: Error & { bounced_rcpt?: [] }): void {
  if (!this.paceline) return next(); // a cluster master: workers pace
  bounced(this, hmail, err, next);
}

/** Stops the listeners and publishers, writes the memory store's state once more, closes the store. */
export function shutdown(this: Plugin): void {
  stopPlugin(this);
}
