/**
 * A discrete-event model of Haraka's outbound queue driving the real engine
 * (lib/engine.ts on the memory store, with the simulated clock injected):
 *
 * - a message ready for an attempt waits in a FIFO until fewer than
 *   `maxInFlight` deliveries are in flight, then the engine decides;
 * - `delay` puts it in the temp-fail timer queue for whole seconds; that queue
 *   is polled once a second, so it comes back on the next whole-second tick;
 * - `hold` (a booked slot under two seconds away) is waited for in-process,
 *   keeping the delivery slot, as plugins/paceline.ts does: at most three
 *   holds in a row, then a one-second delay;
 * - `send` starts a delivery lasting a modelled latency; the provider model
 *   answers at its end, and the engine is told the outcome;
 * - a 4xx answer retries after the lane's `reopensAt` when a reaction closed
 *   the lane (the plugin's DENYSOFT seconds), else after Haraka's
 *   temp_fail_intervals (64 s doubling; a bounce after 13 failures).
 */

import { delaySeconds, Engine, type Decision, type Ticket } from '../lib/engine';
import { buildConfig } from '../lib/config/load';
import { MxResolver, type DnsLike } from '../lib/mx';
import type { Classifier } from '../lib/outcomes';
import { MemoryStore } from '../lib/store/memory';
import { Agenda } from './events';
import { figures, Tally, type Figures } from './metrics';
import { Prng, subSeed } from './prng';
import type { ProviderModel, SimSource } from './providers';
import type { Scenario, SimMessage } from './scenario';
import type { Strategy } from './strategies';

/** Haraka's default maxTempFailures: the 13th temporary failure bounces. */
const MAX_TEMP_FAILURES = 13;
/** plugins/paceline.ts MAX_HOLDS: in-process holds in a row before a one-second DELAY. */
const MAX_HOLDS = 3;

interface Item {
  readonly msg: SimMessage;
  readonly ticket: Ticket;
  failures: number;
  holds: number;
}

type SimEvent =
  | { kind: 'ready'; item: Item }
  | { kind: 'held'; item: Item }
  | { kind: 'done'; item: Item; source: SimSource; model: ProviderModel };

/** Every lookup is static MX with addresses; a DNS query would be a simulator bug. */
const NO_DNS: DnsLike = {
  resolveMx: (d) => Promise.reject(Object.assign(new Error(`no DNS in the simulator: ${d}`), { code: 'ENOTFOUND' })),
  resolve4: () => Promise.resolve([]),
  resolve6: () => Promise.resolve([]),
};

class Mta {
  private now: number;
  private readonly agenda = new Agenda<SimEvent>();
  private readonly fifo: Item[] = [];
  private head = 0;
  private inFlight = 0;
  private readonly engine: Engine;
  private readonly rng: Prng;
  private readonly models: Map<string, ProviderModel>;
  private readonly sources: Map<string, SimSource>;
  readonly tally: Tally;

  constructor(private readonly sc: Scenario, strategy: Strategy, classifier: Classifier) {
    this.now = sc.t0;
    const clock = (): number => this.now;
    const config = buildConfig(strategy.ini, strategy.yaml);
    const mx = new MxResolver({ cacheMaxMs: config.settings.dnsCacheMaxMs, negativeMs: config.settings.dnsNegativeMs, staticMx: config.staticMx }, NO_DNS, clock);
    this.engine = new Engine(config, new MemoryStore(clock), mx, clock, classifier);
    this.rng = new Prng(subSeed(sc.seed, 2));
    this.models = new Map(sc.providers().map((m) => [m.name, m]));
    this.sources = new Map(sc.sources.map((s) => [s.name, s]));
    this.tally = new Tally(sc);
  }

  /** Runs until the end of the scenario; returns how many messages are still queued. */
  async run(): Promise<number> {
    for (const msg of this.sc.messages) this.agenda.push(msg.queueTime, { kind: 'ready', item: { msg, ticket: {}, failures: 0, holds: 0 } });
    while (this.agenda.peekAt() < this.sc.endAt) {
      const next = this.agenda.pop();
      if (!next) break;
      this.now = next.at;
      const ev = next.event;
      if (ev.kind === 'ready') this.fifo.push(ev.item);
      else if (ev.kind === 'held') await this.resume(ev.item);
      else await this.finish(ev.item, ev.source, ev.model);
      if (this.agenda.peekAt() > this.now) await this.pump();
    }
    return this.agenda.size + (this.fifo.length - this.head);
  }

  /** The next tick of Haraka's once-a-second temp-fail queue at or after `at`. */
  private tick(at: number): number {
    return this.sc.t0 + Math.ceil((at - this.sc.t0) / 1000) * 1000;
  }

  /** Starts attempts while the MTA has free delivery slots. */
  private async pump(): Promise<void> {
    while (this.head < this.fifo.length && this.inFlight < this.sc.maxInFlight) {
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
    const d = await this.engine.decide({ id: String(m.id), domain: m.domain, queueTime: m.queueTime }, item.ticket);
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
      return;
    }
    const model = this.models.get(item.msg.provider) as ProviderModel;
    if (d.action !== 'send' || d.relay || d.provider !== model.name) {
      this.tally.anomalies += 1;
      return;
    }
    const source = this.sources.get(d.source.name) as SimSource;
    this.inFlight += 1;
    this.tally.attempt(item.msg);
    const [lo, hi] = this.sc.latencyMs;
    this.agenda.push(this.now + Math.round(this.rng.between(lo, hi)), { kind: 'done', item, source, model });
  }

  /** A delivery ends with the provider's answer; the engine records it; a deferral is retried. */
  private async finish(item: Item, source: SimSource, model: ProviderModel): Promise<void> {
    this.inFlight -= 1;
    const answer = model.answer(source, this.now);
    if (answer.accepted) {
      this.tally.deliver(item.msg, this.now);
      await this.engine.outcome(item.ticket, { delivered: true });
      return;
    }
    this.tally.throttle(item.msg);
    const report = await this.engine.outcome(item.ticket, answer.reply === undefined ? { delivered: false } : { delivered: false, reply: answer.reply });
    item.failures += 1;
    if (item.failures >= MAX_TEMP_FAILURES) {
      this.tally.bounced += 1;
      return;
    }
    const wait = report?.reopensAt ? delaySeconds(report.reopensAt, this.now) : 0;
    const seconds = wait > 1 ? wait : 2 ** (item.failures + 5);
    this.agenda.push(this.tick(this.now + seconds * 1000), { kind: 'ready', item });
  }
}

/** Runs one strategy through the scenario and returns its figures. */
export async function simulate(sc: Scenario, strategy: Strategy, classifier: Classifier): Promise<Figures> {
  const mta = new Mta(sc, strategy, classifier);
  const queued = await mta.run();
  return figures(strategy.name, sc, mta.tally, queued);
}
