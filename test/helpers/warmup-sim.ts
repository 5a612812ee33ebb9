/**
 * A day-by-day warm-up scenario driven through the real engine with an
 * injected clock, for any store: messages arrive at a steady pace, each is
 * decided, delayed ones come back when told, sent ones end after a second.
 */
import { Engine, type Ticket } from '../../lib/engine/engine';
import { buildConfig } from '../../lib/config/load';
import { MxResolver } from '../../lib/engine/mx';
import type { PacingStore } from '../../lib/store/types';
import type { Classifier } from '../../lib/engine/outcomes';
import { DAY_MS } from '../../lib/core/day';

export interface SimOptions {
  readonly yaml: unknown;
  readonly warmup: unknown;
  readonly days: number;
  /** Minutes between arrivals. */
  readonly everyMinutes: number;
  readonly domain: string;
  /** Days (1-based) on which every delivery from `badSource` is answered 451 4.7.500. */
  readonly badDays?: ReadonlySet<number>;
  readonly badSource?: string;
}

export interface SimResult {
  /** Per day (1-based) and source: messages sent. */
  readonly sent: Array<Record<string, number>>;
  /** Per source: send times (ms since the start). */
  readonly times: Record<string, number[]>;
  readonly arrived: number;
  readonly delivered: number;
  readonly pending: number;
}

const START = Date.UTC(2026, 0, 5);

const classify: Classifier = (reply) =>
  /4\.7\.500/.test(reply) ? { category: 'throttle', rule: 'ms' } : { category: 'unknown' };

export async function simulateWarmup(
  makeStore: (clock: () => number) => PacingStore,
  o: SimOptions,
): Promise<SimResult> {
  let now = START;
  const clock = () => now;
  const store = makeStore(clock);
  const config = buildConfig({ main: { max_delay: '30d' } }, o.yaml, o.warmup);
  const mx = new MxResolver({ cacheMaxMs: 300_000, negativeMs: 60_000, staticMx: config.staticMx }, undefined, clock);
  const engine = new Engine(config, store, mx, clock, classify);
  const queue: Array<
    { at: number; id: number; ticket: Ticket; queued: number } | { at: number; end: Ticket; source: string }
  > = [];
  const sent: Array<Record<string, number>> = [];
  const times: Record<string, number[]> = {};
  let arrived = 0;
  let delivered = 0;
  const end = START + o.days * DAY_MS;
  for (let t = START; t < end; t += o.everyMinutes * 60_000)
    queue.push({ at: t, id: arrived++, ticket: {}, queued: t });
  while (queue.length > 0) {
    queue.sort((a, b) => a.at - b.at);
    const ev = queue.shift()!;
    if (ev.at >= end + 5 * DAY_MS) break;
    now = ev.at;
    const day = Math.floor((now - START) / DAY_MS) + 1;
    if ('end' in ev) {
      const bad = o.badDays?.has(day) && ev.source === o.badSource;
      await engine.outcome(ev.end, bad ? { delivered: false, reply: '451 4.7.500 Server busy' } : { delivered: true });
      continue;
    }
    const d = await engine.decide({ id: String(ev.id), domain: o.domain, queueTime: ev.queued }, ev.ticket);
    if (d.action === 'delay') queue.push({ ...ev, at: now + d.seconds * 1000 });
    else if (d.action === 'hold') queue.push({ ...ev, at: now + d.ms });
    else if (d.action === 'send') {
      const src = d.source.name;
      const row = (sent[day - 1] ??= {});
      row[src] = (row[src] ?? 0) + 1;
      (times[src] ??= []).push(now - START);
      delivered += 1;
      queue.push({ at: now + 1000, end: ev.ticket, source: src });
    } else throw new Error(`unexpected decision ${d.action}: ${d.why}`);
  }
  await store.close();
  return { sent, times, arrived, delivered, pending: queue.filter((e) => !('end' in e)).length };
}
