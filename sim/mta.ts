/**
 * A discrete-event model of Haraka's outbound queue. It asks a {@link Pacer}
 * (the real engine, lib/engine/engine.ts, on the memory store with the simulated
 * clock; or none) what to do with each message, and a {@link Wire} how a
 * delivery plays out at the receiver:
 *
 * - a message ready for an attempt waits in a FIFO until fewer than
 *   `maxInFlight` deliveries are in flight (Haraka's concurrency_max), then
 *   the pacer decides (Haraka's send_email hook);
 * - `delay` puts it in the temp-fail timer queue for whole seconds; that queue
 *   is polled once a second, so it comes back on the next whole-second tick;
 * - `hold` (a booked slot under two seconds away) is waited for in-process,
 *   keeping the delivery slot, as the plugin does (lib/haraka/answer.ts): at most three
 *   holds in a row, then a one-second delay;
 * - `send` hands the message to the wire, which ends it accepted or with a
 *   reply; the pacer is told the outcome (Haraka's delivered / deferred hooks);
 * - a 4xx answer retries after the lane's `reopensAt` when a reaction closed
 *   the lane (the plugin's DENYSOFT seconds), else after Haraka's
 *   temp_fail_intervals (64 s doubling; a bounce after 13 failures).
 */

import { delaySeconds, type Decision, type Message, type Ticket } from '../lib/engine/engine';
import { MAX_HOLDS } from '../lib/haraka/glue';
import type { Attempt } from '../lib/engine/outcomes';
import { Agenda } from './events';
import type { SimMessage } from './scenario';

/** Haraka's default maxTempFailures: the 13th temporary failure bounces. */
const MAX_TEMP_FAILURES = 13;

/** What decides for each message: the engine, or a stand-in for Haraka without paceline. */
export interface Pacer {
  decide(msg: Message, ticket: Ticket): Promise<Decision>;
  /** Records how an attempt ended; `reopensAt` (epoch ms) when a reaction closed the lane. */
  outcome(ticket: Ticket, attempt: Attempt): Promise<{ readonly reopensAt?: number } | null | undefined>;
}

/** How a delivery ended. */
export interface Ending {
  readonly accepted: boolean;
  /** The reply as Haraka reports a temporary failure to the plugin (`Upstream error: 451 ...`). */
  readonly reply?: string;
}

/** One step of a delivery at simulated time: returns the ending when the delivery is over. */
export type Step = () => Ending | undefined;

/** Schedules a step of a delivery at `at` (epoch ms). */
export type Schedule = (at: number, step: Step) => void;

/** The receiving side: plays one delivery out as timed steps. */
export interface Wire {
  /** Starts delivering `msg` from source `source` at `now`; false when the decision is one the model does not expect. */
  start(msg: SimMessage, decision: Extract<Decision, { action: 'send' }>, now: number, schedule: Schedule): boolean;
}

/** Counts what happens; the MTA calls it, the figures read it. */
export interface Recorder {
  decisions: number;
  expired: number;
  bounced: number;
  anomalies: number;
  attempt(msg: SimMessage, source: string): void;
  deliver(msg: SimMessage, now: number, source: string): void;
  throttle(msg: SimMessage, source: string): void;
  /** A message leaves the queue undelivered (bounced or expired). */
  dropped?(msg: SimMessage): void;
}

/** The simulated clock shared by the MTA (which sets it) and the engine (which reads it). */
export interface SimClock {
  now: number;
}

/** The part of a scenario the MTA needs. */
export interface MtaSetup {
  readonly t0: number;
  readonly endAt: number;
  /** Deliveries in flight at once over the whole MTA (Haraka's concurrency_max). */
  readonly maxInFlight: number;
  readonly messages: readonly SimMessage[];
}

interface Item {
  readonly msg: SimMessage;
  readonly ticket: Ticket;
  failures: number;
  holds: number;
}

type SimEvent =
  | { kind: 'ready'; item: Item }
  | { kind: 'held'; item: Item }
  | { kind: 'step'; item: Item; source: string; step: Step };

/** The queue itself; {@link Mta.run} drives it to the end of the setup. */
export class Mta {
  private readonly agenda = new Agenda<SimEvent>();
  private readonly fifo: Item[] = [];
  private head = 0;
  private inFlight = 0;

  constructor(
    private readonly setup: MtaSetup,
    private readonly clock: SimClock,
    private readonly pacer: Pacer,
    private readonly wire: Wire,
    readonly tally: Recorder,
  ) {
    clock.now = setup.t0;
  }

  private get now(): number {
    return this.clock.now;
  }

  /** Runs until the end of the setup; returns how many messages are still queued. */
  async run(): Promise<number> {
    for (const msg of this.setup.messages)
      this.agenda.push(msg.queueTime, { kind: 'ready', item: { msg, ticket: {}, failures: 0, holds: 0 } });
    while (this.agenda.peekAt() < this.setup.endAt) {
      const next = this.agenda.pop();
      if (!next) break;
      this.clock.now = next.at;
      const ev = next.event;
      if (ev.kind === 'ready') this.fifo.push(ev.item);
      else if (ev.kind === 'held') await this.resume(ev.item);
      else await this.step(ev.item, ev.source, ev.step);
      if (this.agenda.peekAt() > this.now) await this.pump();
    }
    return this.inFlight + this.queuedOutside();
  }

  /** Messages waiting in timers or the FIFO (a held message is counted in flight). */
  private queuedOutside(): number {
    let waiting = 0;
    for (const e of this.agenda.events()) if (e.kind === 'ready') waiting += 1;
    return waiting + (this.fifo.length - this.head);
  }

  /** The next tick of Haraka's once-a-second temp-fail queue at or after `at`. */
  private tick(at: number): number {
    return this.setup.t0 + Math.ceil((at - this.setup.t0) / 1000) * 1000;
  }

  /** Starts attempts while the MTA has free delivery slots. */
  private async pump(): Promise<void> {
    while (this.head < this.fifo.length && this.inFlight < this.setup.maxInFlight) {
      const item = this.fifo[this.head++] as Item;
      if (this.head > 65_536) {
        this.fifo.splice(0, this.head);
        this.head = 0;
      }
      await this.decide(item);
    }
  }

  /** A held message's in-process wait is over: it gives its slot back and asks again at once. */
  private async resume(item: Item): Promise<void> {
    this.inFlight -= 1;
    await this.decide(item);
  }

  private async decide(item: Item): Promise<void> {
    const m = item.msg;
    this.tally.decisions += 1;
    const d = await this.pacer.decide({ id: String(m.id), domain: m.domain, queueTime: m.queueTime }, item.ticket);
    this.act(item, d);
  }

  private act(item: Item, d: Decision): void {
    if (d.action === 'hold' && item.holds < MAX_HOLDS) {
      item.holds += 1;
      this.inFlight += 1;
      this.agenda.push(this.now + d.ms, { kind: 'held', item });
      return;
    }
    item.holds = 0;
    if (d.action === 'delay' || d.action === 'hold') {
      const seconds = d.action === 'delay' ? d.seconds : 1;
      this.agenda.push(this.tick(this.now + seconds * 1000), { kind: 'ready', item });
      return;
    }
    if (d.action === 'expire') {
      this.tally.expired += 1;
      this.tally.dropped?.(item.msg);
      return;
    }
    const source = d.action === 'send' && !d.relay ? d.source.name : '';
    const schedule: Schedule = (at, step) => this.agenda.push(at, { kind: 'step', item, source, step });
    if (d.action !== 'send' || d.relay || !this.wire.start(item.msg, d, this.now, schedule)) {
      this.tally.anomalies += 1;
      return;
    }
    this.inFlight += 1;
    this.tally.attempt(item.msg, source);
  }

  /** One step of a delivery; at its end the pacer records the outcome and a deferral is retried. */
  private async step(item: Item, source: string, step: Step): Promise<void> {
    const end = step();
    if (!end) return;
    this.inFlight -= 1;
    if (end.accepted) {
      this.tally.deliver(item.msg, this.now, source);
      await this.pacer.outcome(item.ticket, { delivered: true });
      return;
    }
    this.tally.throttle(item.msg, source);
    const report = await this.pacer.outcome(
      item.ticket,
      end.reply === undefined ? { delivered: false } : { delivered: false, reply: end.reply },
    );
    item.failures += 1;
    if (item.failures >= MAX_TEMP_FAILURES) {
      this.tally.bounced += 1;
      this.tally.dropped?.(item.msg);
      return;
    }
    const wait = report?.reopensAt ? delaySeconds(report.reopensAt, this.now) : 0;
    const seconds = wait > 1 ? wait : 2 ** (item.failures + 5);
    this.agenda.push(this.tick(this.now + seconds * 1000), { kind: 'ready', item });
  }
}
