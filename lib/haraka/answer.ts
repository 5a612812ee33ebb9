/**
 * Deciding and answering Haraka: the pool header of an inbound message
 * (data_post), the engine's decision as send_email's answer (a hold waited
 * for in-process, a DELAY in whole seconds), and the MX list of get_mx.
 * Every function answers `next` exactly once and catches everything.
 */

import constants from 'haraka-constants';
import type { Decision, Ticket } from '../engine/engine';
import { logText } from '../core/log-text';
import { answerSeconds, headerPool, MAX_HOLDS, messageOf, mxEntries } from './glue';
import { LANE_NOTE, ticketOf, type Plugin, type PluginState } from './state';
import type { Connection, HMail, Next } from './types';

/**
 * Takes the pool header into a transaction note (unless a plugin set one) when
 * the sender may name that pool (see headerPool), and removes it either way.
 */
export function takePoolHeader(plugin: Plugin, next: Next, connection: Connection): void {
  try {
    const txn = connection.transaction;
    const config = (plugin.paceline as PluginState).engine.current;
    const { poolHeader, poolNote } = config.settings;
    if (txn && poolHeader) {
      const value = txn.header.get(poolHeader).trim();
      if (value && txn.notes[poolNote] === undefined) {
        const asked = headerPool(config, value, Boolean(connection.notes?.auth_user));
        if ('pool' in asked) txn.notes[poolNote] = asked.pool;
        else plugin.logwarn(`paceline: ${asked.ignored}`, connection);
      }
      txn.remove_header(poolHeader);
    }
  } catch (err) {
    plugin.logerror(`paceline data_post: ${logText((err as Error).stack, 2000)}`);
  }
  next();
}

/** Decides and answers Haraka; a booked slot less than two seconds away is waited for in-process. */
export function decideAndAnswer(plugin: Plugin, hmail: HMail, next: Next, holds: number): void {
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

/** get_mx's answer from the message's decision: its MX list, a DENY when it expired, a DENYSOFT when unroutable. */
export function answerMx(plugin: Plugin, hmail: HMail, next: Next): void {
  const decision = ticketOf(plugin, hmail).decision;
  switch (decision?.action) {
    case 'send':
      return next(constants.ok, mxEntries(decision));
    case 'expire':
      return next(constants.deny, decision.why);
    case 'unroutable':
      plugin.logwarn(`paceline: ${logText(decision.why, 1000)}`, hmail);
      return next(constants.denysoft, decision.why);
    default:
      return next();
  }
}
