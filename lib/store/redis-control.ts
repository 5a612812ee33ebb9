/** Decodes the operator controls kept by lua/control-1.lua. */

import { asControl, type Control } from '../core/control';

/** One stored value: JSON { target (JSON text), at, until (exact text), reason, who }. */
export function decodeControl(value: string): Control {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(value) as Record<string, unknown>;
    raw = {
      ...raw,
      action: 'pause',
      target: JSON.parse(String(raw.target)),
      at: Number(raw.at),
      until: Number(raw.until),
    };
  } catch {
    throw new Error(`paceline: unreadable control in Redis: ${value}`);
  }
  const control = asControl(raw);
  if (!control) throw new Error(`paceline: unreadable control in Redis: ${value}`);
  return control;
}
