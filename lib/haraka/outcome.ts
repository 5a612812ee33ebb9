/**
 * How a delivery attempt ended, for the engine: Haraka's delivered, deferred
 * and bounce hooks as an Attempt on the message's lane, the reply's category
 * logged, the lane's held turn woken, and a DENYSOFT with the lane's reopening
 * time when a reaction closed it. Every function answers `next` exactly once.
 */

import constants from 'haraka-constants';
import { delaySeconds } from '../engine/engine';
import type { Attempt, OutcomeReport } from '../engine/outcomes';
import { laneKey, type LaneRef } from '../store/types';
import { logText } from '../core/log-text';
import { answerSeconds, markExpired, replyOf, sourceHealthLine, unreachedOf } from './glue';
import { LANE_NOTE, ticketOf, type Plugin, type PluginState } from './state';
import type { HMail, Next } from './types';

/** delivered: the attempt succeeded. */
export function delivered(plugin: Plugin, hmail: HMail, next: Next): void {
  ended(plugin, hmail, { delivered: true }, next, false);
}

/** deferred: no MX host reached, or a temporary failure with its reply; may answer DENYSOFT with seconds. */
export function deferred(plugin: Plugin, hmail: HMail, params: { err?: unknown; fail_recips?: [] }, next: Next): void {
  if (unreachedOf(params?.err, params?.fail_recips))
    return ended(plugin, hmail, { delivered: false, unreached: true }, next, true);
  const reply = replyOf(params?.err, params?.fail_recips);
  ended(plugin, hmail, reply === undefined ? { delivered: false } : { delivered: false, reply }, next, true);
}

/** bounce: a message held past max_delay (its DSN says so; not an attempt), or a permanent failure. */
export function bounced(plugin: Plugin, hmail: HMail, err: Error & { bounced_rcpt?: [] }, next: Next): void {
  const decision = ticketOf(plugin, hmail).decision;
  if (decision?.action === 'expire') {
    const text = markExpired(hmail, decision.why);
    if (err) err.message = text;
    plugin.lognotice(`paceline bounced ${logText(hmail.todo.domain)}: ${logText(text, 1000)}`, hmail);
    return ended(plugin, hmail, { delivered: false, expired: true }, next, false, false); // held too long: not an attempt
  }
  if (unreachedOf(err, err?.bounced_rcpt))
    return ended(plugin, hmail, { delivered: false, bounced: true, unreached: true }, next, false);
  const reply = replyOf(err, err?.bounced_rcpt);
  ended(
    plugin,
    hmail,
    reply === undefined ? { delivered: false, bounced: true } : { delivered: false, bounced: true, reply },
    next,
    false,
  );
}

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

/** A source that reached no MX host, was marked down, or is back: one log line, and the sources file rewritten. */
function logSourceHealth(plugin: Plugin, report: OutcomeReport, hmail: HMail): void {
  const state = plugin.paceline as PluginState;
  const line = sourceHealthLine(report, hmail.todo.domain, state.clock());
  if (!line) return;
  const log = line.level === 'warn' ? plugin.logwarn : line.level === 'notice' ? plugin.lognotice : plugin.loginfo;
  log.call(plugin, line.text, hmail);
  if (line.level !== 'info') state.sources?.write();
}
