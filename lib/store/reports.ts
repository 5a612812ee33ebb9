/**
 * With a shared store, each Haraka process publishes what only it knows to
 * the store, for `paceline status` on any host: its sources with failures
 * (lib/core/source-health.ts) and the messages it told to wait
 * (lib/core/waiting.ts). A report counts for REPORT_TTL_MS after it was
 * written, so a process that is gone stops counting then; each process
 * writes its report every REPORT_EVERY_MS and at each source change.
 */

import os from 'node:os';
import type { SourceHealth, SourceTrouble } from '../core/source-health';
import type { WaitingLane, WaitingMessages } from '../core/waiting';
import type { PacingStore } from './types';
import { periodic } from './periodic';

/** How often a process publishes its report (ms). */
export const REPORT_EVERY_MS = 5_000;

/** How long a report counts after it was written (ms): three intervals, so one slow write loses nothing. */
export const REPORT_TTL_MS = 3 * REPORT_EVERY_MS;

/** What one process reports (the same fields as its per-process file, plus who it is). */
export interface ReportBody {
  /** The process's node name (paceline.ini [main] node, else `me` and the Haraka directory) and pid. */
  readonly node: string;
  readonly host: string;
  readonly pid: number;
  /** When it was written (epoch ms, the process's clock). */
  readonly now: number;
  readonly sources: readonly SourceTrouble[];
  readonly waiting: readonly WaitingLane[];
}

/** The store's key of a process: its node and pid (the workers of one node share the node name). */
export function reportId(node: string, pid: number): string {
  return `${node}#${pid}`;
}

/**
 * Publishes this process's report to `store` every `everyMs`; `write()`
 * publishes at once, `stop()` ends it and withdraws the report (a 1 ms TTL).
 * A failed write is dropped: status is a convenience, pacing never waits on it.
 */
export function startReports(
  store: PacingStore,
  who: { node: string; health: SourceHealth; waiting: WaitingMessages; clock: () => number },
  everyMs = REPORT_EVERY_MS,
  ttlMs = REPORT_TTL_MS,
): { write(): void; stop(): void } {
  const id = reportId(who.node, process.pid);
  const body = (): ReportBody => {
    const now = who.clock();
    return {
      node: who.node,
      host: os.hostname(),
      pid: process.pid,
      now,
      sources: who.health.troubles(now),
      waiting: who.waiting.lanes(),
    };
  };
  const write = () => void store.report(id, JSON.stringify(body()), ttlMs).catch(() => undefined);
  return periodic(write, everyMs, () => void store.report(id, JSON.stringify(body()), 1).catch(() => undefined));
}

/** The reports still counting, parsed; an unreadable one is left out. */
export async function readReports(store: PacingStore): Promise<ReportBody[]> {
  const { value } = await store.reports();
  const out: ReportBody[] = [];
  for (const r of value) {
    try {
      const body = JSON.parse(r.text) as ReportBody;
      if (Array.isArray(body.sources) && Array.isArray(body.waiting) && typeof body.pid === 'number') out.push(body);
    } catch {
      // a report written by another version: the next one replaces it
    }
  }
  return out;
}
