/** Syntax checks for config files, with line numbers, before haraka-config reads them. */

import { isScalar, LineCounter, parseDocument, visit } from 'yaml';

/**
 * Keys haraka-config deletes from every file it reads (with a console line
 * only): a source, pool or provider of such a name would silently vanish.
 */
export const UNSAFE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const UNSAFE_EXPECTED = 'a name other than __proto__, constructor or prototype (haraka-config drops such keys)';

export interface SyntaxProblem {
  /** `line N` (1-based). */
  readonly where: string;
  readonly text: string;
  readonly expected: string;
}

/** Every YAML syntax error of a document, and every key haraka-config would drop. */
export function yamlSyntax(text: string): SyntaxProblem[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter });
  const problems: SyntaxProblem[] = doc.errors.map((e) => ({
    where: `line ${(e.linePos?.[0]?.line ?? 0) || '?'}`,
    text: e.message.split('\n')[0] ?? e.message,
    expected: 'valid YAML',
  }));
  visit(doc, {
    Pair(_, pair) {
      const key = pair.key;
      if (!isScalar(key) || !UNSAFE_KEYS.has(String(key.value))) return;
      const where = `line ${lineCounter.linePos(key.range?.[0] ?? 0).line}`;
      problems.push({ where, text: String(key.value), expected: UNSAFE_EXPECTED });
    },
  });
  return problems;
}

const INI_LINE = /^\s*(?:[;#].*|\[[^\]]+\]\s*|[^=\s][^=]*=.*|.*\\\s*|)$/;

/** Lines of an ini file that are neither a comment, a `[section]` nor `key=value`. */
export function iniSyntax(text: string): SyntaxProblem[] {
  const problems: SyntaxProblem[] = [];
  text.split(/\r\n|\r|\n/).forEach((line, i) => {
    if (!INI_LINE.test(line))
      problems.push({ where: `line ${i + 1}`, text: line, expected: '"key=value", "[section]" or a ; comment' });
    const key = /^\s*([^=\s[;#][^=]*?)(?:\[\])?\s*=/.exec(line)?.[1];
    if (key !== undefined && UNSAFE_KEYS.has(key)) {
      problems.push({ where: `line ${i + 1}`, text: key, expected: UNSAFE_EXPECTED });
    }
  });
  return problems;
}
