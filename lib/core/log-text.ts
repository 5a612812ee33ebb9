/**
 * Values from outside (a header, a recipient domain, a reply, a DNS error)
 * reach log lines only through `logText`: one line, printable, bounded.
 * Pure: no I/O.
 */

/** Longest outside value kept in a log line (characters), before the cut marker. */
export const LOG_TEXT_MAX = 200;

/**
 * C0 and C1 controls, DEL, the Unicode line and paragraph separators and the
 * bidirectional overrides: each could split a log line, colour a terminal or
 * make the text read differently from what it is.
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(ch: string): string {
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `value` as log text: controls escaped (`\x00`, `\x1b`, `\u2028`), cut
 * after `max` characters of the original with a marker saying how many were
 * left out. The result holds at most `max` characters of the value (each
 * escaped to 6 at worst) plus the marker. Escaped text escapes to itself, so
 * a log line may pass text that holds escaped values through it again.
 */
export function logText(value: unknown, max = LOG_TEXT_MAX): string {
  const text = typeof value === 'string' ? value : String(value);
  let kept = text.length > max ? text.slice(0, max) : text;
  // never end on half a surrogate pair
  if (kept.length < text.length && /[\ud800-\udbff]$/.test(kept)) kept = kept.slice(0, -1);
  const cut = text.length - kept.length;
  return kept.replace(UNSAFE, escapeChar) + (cut > 0 ? `…[${cut} more chars]` : '');
}
