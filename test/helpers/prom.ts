/**
 * A strict reader of the Prometheus text exposition format (as prom-client
 * writes it): every family has # HELP then # TYPE before its samples, every
 * sample line is `name{label="value",...} number`. Anything else throws.
 */

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  readonly samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (-?(?:[0-9.e+-]+|Inf|NaN|\\+Inf))$`);
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text);
    if (!m) throw new Error(`bad labels in: ${line}`);
    labels[m[1] as string] = (m[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

/** The sample names a family's samples may have (a histogram's _bucket, _sum, _count). */
function belongs(family: string, type: Family['type'], name: string): boolean {
  if (name === family) return type !== 'histogram';
  return (
    (type === 'histogram' || type === 'summary') &&
    [`${family}_bucket`, `${family}_sum`, `${family}_count`].includes(name)
  );
}

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let help: { name: string; help: string } | undefined;
  let current: Family | undefined;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const h = /^# HELP (\S+) (.*)$/.exec(line);
    if (h) {
      help = { name: h[1] as string, help: h[2] as string };
      current = undefined;
      continue;
    }
    const t = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (t) {
      if (!help || help.name !== t[1]) throw new Error(`# TYPE without its # HELP: ${line}`);
      if (families.has(help.name)) throw new Error(`family ${help.name} twice`);
      current = { name: help.name, help: help.help, type: t[2] as Family['type'], samples: [] };
      families.set(current.name, current);
      continue;
    }
    const s = SAMPLE.exec(line);
    if (!s) throw new Error(`not a sample line: ${line}`);
    if (!current || !belongs(current.name, current.type, s[1] as string))
      throw new Error(`sample outside its family: ${line}`);
    const value = s[3] === '+Inf' || s[3] === 'Inf' ? Infinity : Number(s[3]);
    if (Number.isNaN(value) && s[3] !== 'NaN') throw new Error(`bad value: ${line}`);
    current.samples.push({ name: s[1] as string, labels: s[2] ? parseLabels(s[2], line) : {}, value });
  }
  return families;
}

/** Sum of a family's samples named `name` whose labels include `match`. */
export function total(
  families: Map<string, Family>,
  family: string,
  match: Record<string, string> = {},
  name = family,
): number {
  const f = families.get(family);
  if (!f) return 0;
  return f.samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

/** The distinct values of a label across a family's samples. */
export function labelValues(families: Map<string, Family>, family: string, label: string): string[] {
  const values = new Set<string>();
  for (const s of families.get(family)?.samples ?? [])
    if (s.labels[label] !== undefined) values.add(s.labels[label] as string);
  return [...values].sort();
}
