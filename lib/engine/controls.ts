/**
 * The operator controls (lib/core/control.ts: pause, resume) as the engine
 * obeys them: read from the store at most every CONTROL_REFRESH_MS, each
 * change logged, the candidate lanes a pause holds back, and the delay of
 * mail that every candidate's pause holds.
 */

import { type Control, describeTarget, pauseOn, targetKey } from '../core/control';
import type { PacingStore } from '../store/types';
import type { Decision } from './decision';
import { delaySeconds } from './delays';

/** The engine reads the operator controls from the store at most this often (a pause reaches every node within it). */
export const CONTROL_REFRESH_MS = 500;

/** Mail held by an operator pause comes back at least this often (a resume takes effect within it). */
export const CONTROL_REPOLL_MS = 10_000;

/** A control in one log line: what, until when, by whom, why. */
function controlText(c: Control): string {
  const until = c.until === 0 ? 'until resumed' : `until ${new Date(c.until).toISOString()}`;
  return `${c.action} ${describeTarget(c.target)} ${until} by ${c.who}${c.reason ? `: ${c.reason}` : ''}`;
}

/** The candidates no operator pause covers, or the pause that holds back all of them. */
export function unpaused<C extends { readonly source: { readonly name: string } }>(
  all: readonly C[],
  controls: readonly Control[],
  provider: string,
  now: number,
): { free: C[]; pause?: Control } {
  if (controls.length === 0) return { free: [...all] };
  const free: C[] = [];
  let pause: Control | undefined;
  for (const c of all) {
    const p = pauseOn(controls, c.source.name, provider, now);
    if (!p) free.push(c);
    else if (!pause || (pause.until !== 0 && (p.until === 0 || p.until < pause.until))) pause = p;
  }
  return free.length > 0 ? { free } : { free, ...(pause ? { pause } : {}) };
}

/** The controls in force for this process: one store read at a time, cached, each change told to `log`. */
export class OperatorControls {
  private cache: { at: number; list: readonly Control[] } | undefined;

  private reading: Promise<readonly Control[]> | undefined;

  /** The controls this process last read, by target key and start: what a change is measured against. */
  private seen = new Map<string, Control>();

  /**
   * Told each control this process starts or stops obeying (set by the
   * plugin to log it): with Redis, every node's log says when a pause written
   * through the store reached it.
   */
  log?: (text: string) => void;

  constructor(
    private readonly store: PacingStore,
    private readonly clock: () => number,
  ) {}

  /**
   * The operator controls in force, read from the store at most every
   * CONTROL_REFRESH_MS (one read shared by the decisions waiting for it).
   */
  async list(): Promise<readonly Control[]> {
    const now = this.clock();
    if (this.cache && now - this.cache.at < CONTROL_REFRESH_MS) return this.cache.list;
    this.reading ??= this.store.controls().then(
      ({ value }) => {
        this.cache = { at: this.clock(), list: value };
        this.reading = undefined;
        this.note(value);
        return value;
      },
      (err: unknown) => {
        this.reading = undefined;
        throw err;
      },
    );
    return this.reading;
  }

  private note(list: readonly Control[]): void {
    const next = new Map(list.map((c) => [`${targetKey(c.target)}@${c.at}`, c]));
    if (this.log) {
      for (const [key, c] of next)
        if (!this.seen.has(key)) this.log(`paceline: operator control in force: ${controlText(c)}`);
      for (const [key, c] of this.seen)
        if (!next.has(key)) this.log(`paceline: operator control ended: ${controlText(c)}`);
    }
    this.seen = next;
  }

  /** Forgets the cached controls: the next decision reads them. */
  refresh(): void {
    this.cache = undefined;
  }
}

/**
 * Every candidate lane is paused by an operator: wait for the pause to end,
 * coming back at least every CONTROL_REPOLL_MS for a resume. The operator
 * decides how long mail waits: max_delay does not bounce it meanwhile.
 */
export function operatorPaused(provider: string, pause: Control, now: number): Decision {
  const at = pause.until === 0 ? now + CONTROL_REPOLL_MS : Math.min(pause.until, now + CONTROL_REPOLL_MS);
  const by = `${describeTarget(pause.target)} paused by ${pause.who}${pause.reason ? ` (${pause.reason})` : ''}`;
  const ends = pause.until === 0 ? 'until resumed' : `until ${new Date(pause.until).toISOString()}`;
  return {
    action: 'delay',
    seconds: delaySeconds(at, now),
    provider,
    reason: 'operator_pause',
    why: `${by} ${ends}`,
  };
}
