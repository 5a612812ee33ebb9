/**
 * Parses a remote SMTP reply as Haraka reports it, so that rules can look at
 * the basic code, the enhanced code and the text separately.
 *
 * Haraka hands over replies in several shapes: `Upstream error: 451 4.7.500
 * ...` (a temp_fail), `550 5.7.1 ...` (a bounce), multi-line replies whose
 * lines Haraka joined with spaces (keeping an enhanced code it could not
 * parse on every line), lines joined with `\n` or `\r\n` by other tools, and
 * its own texts without any remote reply (`Tried all MXs`). Haraka's own
 * parser only takes one-digit details (`4.7.0`); providers use up to three
 * (`4.7.500`, `5.7.606`), RFC 3463 §2 allows 1-3 digits for subject and detail.
 *
 * Input comes from the network, so the parser is total: it never throws and
 * does bounded work on any string.
 */

/** One remote reply, split into its parts. */
export interface Reply {
  /** Basic reply code (RFC 5321 §4.2), e.g. 451; absent when the text has none. */
  code?: number;
  /** Enhanced status code class.subject.detail (RFC 3463), e.g. `4.7.500`. */
  enhanced?: string;
  /** The reply text without codes, continuation prefixes or line breaks; runs of spaces collapsed. */
  text: string;
  /** The input as parsed: cut to {@link MAX_REPLY_CHARS}. */
  raw: string;
}

/**
 * Longest input looked at, in UTF-16 code units (4 KiB). Real replies are far
 * shorter (RFC 5321 §4.5.3.1.5: reply lines up to 512 octets); anything longer
 * is cut before any regex runs, so a hostile server cannot make parsing slow.
 */
export const MAX_REPLY_CHARS = 4096;

/** Haraka's prefix on a temp_fail with a remote reply. */
const LABEL = /^\s*Upstream error:\s*/i;
/** `421-` / `421 ` / `421` at the start of a line. */
const CODE = /^([2-5]\d\d)(?:([ -])|$)/;
/** `4.7.500`, optionally written `#4.7.500` (qmail), followed by a space or end. */
const ENHANCED = /^#?([245]\.\d{1,3}\.\d{1,3})(?=[\s;:,)\]]|$)/;
/** Control characters other than line breaks and tab (NUL, ESC, DEL ...). */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;

interface Head {
  code?: number;
  enhanced?: string;
  rest: string;
}

/** Splits the code and the enhanced code off the front of one line. */
function splitHead(line: string): Head {
  let rest = line;
  let code: number | undefined;
  const c = CODE.exec(rest);
  if (c) {
    code = Number(c[1]);
    rest = rest.slice(c[0].length).trimStart();
  }
  const e = ENHANCED.exec(rest);
  if (!e) return { ...(code === undefined ? {} : { code }), rest };
  return {
    ...(code === undefined ? {} : { code }),
    enhanced: e[1] as string,
    rest: rest.slice(e[0].length).trimStart(),
  };
}

/** A continuation line repeats the first line's code (and enhanced code); both go. */
function stripContinuation(line: string, first: Head): string {
  if (first.code === undefined) return line;
  const head = splitHead(line);
  if (head.code !== first.code) return line;
  if (head.enhanced !== undefined && head.enhanced !== first.enhanced) {
    return `${head.enhanced} ${head.rest}`;
  }
  return head.rest;
}

/**
 * Haraka joins a multi-line reply's lines with spaces and, when its parser
 * missed the enhanced code, keeps it on every line: `... rate of 4.7.28
 * unsolicited mail ...`. Postfix logs join them as `... rate of 421-4.7.28
 * unsolicited ...`. Both repeats go; other numbers in the text stay.
 */
function stripInlineRepeats(text: string, first: Head): string {
  let out = text;
  if (first.enhanced !== undefined) {
    const enh = first.enhanced.replace(/\./g, '\\.');
    const code = first.code === undefined ? '' : `(?:${first.code}[ -])?`;
    out = out.replace(new RegExp(`(^|\\s)${code}#?${enh}(?=\\s|$)`, 'g'), '$1');
  }
  if (first.code !== undefined) out = out.replace(new RegExp(`(^|\\s)${first.code}-(?=\\S)`, 'g'), '$1');
  return out;
}

/** Parses one reply; total: any string gives a Reply, nothing throws. */
export function parseReply(raw: string): Reply {
  const input = typeof raw === 'string' ? raw : '';
  const cut = input.length > MAX_REPLY_CHARS ? input.slice(0, MAX_REPLY_CHARS) : input;
  const lines = cut
    .replace(CONTROL, ' ')
    .split(/\r\n|\r|\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const firstLine = (lines[0] ?? '').replace(LABEL, '');
  const first = splitHead(firstLine);
  const parts = [first.rest, ...lines.slice(1).map((l) => stripContinuation(l, first))];
  const text = stripInlineRepeats(parts.join(' '), first).replace(/\s+/g, ' ').trim();
  return {
    ...(first.code === undefined ? {} : { code: first.code }),
    ...(first.enhanced === undefined ? {} : { enhanced: first.enhanced }),
    text,
    raw: cut,
  };
}
