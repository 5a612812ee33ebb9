/** Syntax checks for config files, with line numbers, before haraka-config reads them. */

import { parseDocument } from 'yaml';

export interface SyntaxProblem {
  /** `line N` (1-based). */
  readonly where: string;
  readonly text: string;
  readonly expected: string;
}

/** Every YAML syntax error of a document. */
export function yamlSyntax(text: string): SyntaxProblem[] {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  return doc.errors.map((e) => ({
    where: `line ${(e.linePos?.[0]?.line ?? 0) || '?'}`,
    text: e.message.split('\n')[0] ?? e.message,
    expected: 'valid YAML',
  }));
}

const INI_LINE = /^\s*(?:[;#].*|\[[^\]]+\]\s*|[^=\s][^=]*=.*|.*\\\s*|)$/;

/** Lines of an ini file that are neither a comment, a `[section]` nor `key=value`. */
export function iniSyntax(text: string): SyntaxProblem[] {
  const problems: SyntaxProblem[] = [];
  text.split(/\r\n|\r|\n/).forEach((line, i) => {
    if (!INI_LINE.test(line)) problems.push({ where: `line ${i + 1}`, text: line, expected: '"key=value", "[section]" or a ; comment' });
  });
  return problems;
}
