/**
 * Operator controls as `paceline status` shows them: machine fields (ISO
 * times) for `--json` and the dashboard, one line of words for the table.
 * Pure: controls and a clock in.
 */

import { describeTarget, inForce, type Control, type ControlTarget } from '../core/control';

/** A control as `status --json` shows it: times as ISO text, `until` null = until resumed. */
export interface ControlRow {
  target: ControlTarget;
  /** The target in words: `provider google`, `lane s2/google`. */
  what: string;
  action: 'pause';
  since: string;
  until: string | null;
  who: string;
  reason: string;
}

/** The machine fields of a control. */
export function controlRow(c: Control): ControlRow {
  return {
    target: c.target,
    what: describeTarget(c.target),
    action: c.action,
    since: new Date(c.at).toISOString(),
    until: c.until ? new Date(c.until).toISOString() : null,
    who: c.who,
    reason: c.reason,
  };
}

/** A control in one line: `pause provider google until resumed, by ann since …: reason`. */
export function controlLine(c: Control): string {
  const until = c.until ? `until ${new Date(c.until).toISOString()}` : 'until resumed';
  return `${c.action} ${describeTarget(c.target)} ${until}, by ${c.who} since ${new Date(c.at).toISOString()}${c.reason ? `: ${c.reason}` : ''}`;
}

/**
 * The pause in force on a whole provider or a whole source at `now` (the one
 * that ends last; one without an end wins), or null.
 */
export function pauseOf(
  controls: readonly Control[],
  kind: 'provider' | 'source',
  name: string,
  now: number,
): Control | null {
  let found: Control | null = null;
  for (const c of controls) {
    const t = c.target;
    const hits =
      t.kind === 'provider'
        ? kind === 'provider' && t.provider === name
        : kind === 'source' && t.kind === 'source' && t.source === name;
    if (!hits || !inForce(c, now)) continue;
    if (!found || c.until === 0 || (found.until !== 0 && c.until > found.until)) found = c;
  }
  return found;
}

/** A pause in words for a table cell: `paused by ann until 2026-12-03T12:00:00.000Z (maintenance)`. */
export function pauseCell(c: ControlRow): string {
  return `paused by ${c.who} ${c.until ? `until ${c.until}` : 'until resumed'}${c.reason ? ` (${c.reason})` : ''}`;
}
