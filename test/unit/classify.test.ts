import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { BUILTIN_PROVIDERS } from '../../lib/config/builtin-providers';
import { ConfigError, formatIssue, IssueList } from '../../lib/config/errors';
import { loadShippedRules, parseRules, rulesFromText } from '../../lib/config/replies';
import { classify, isCategory, type Rule } from '../../lib/core/classify';
import { parseReply } from '../../lib/core/reply';

const rules = loadShippedRules();
const known = new Set(Object.keys(BUILTIN_PROVIDERS));

interface Row {
  line: number;
  provider: string | undefined;
  expected: string;
  reply: string;
}

/** test/fixtures/replies.tsv: provider, expected category, reply; `\n` / `\r\n` escapes are line breaks. */
function corpus(): Row[] {
  const file = path.join(__dirname, '..', 'fixtures', 'replies.tsv');
  const rows: Row[] = [];
  fs.readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      if (text.trim() === '' || text.startsWith('#')) return;
      const [provider, expected, ...rest] = text.split('\t');
      rows.push({
        line: i + 1,
        provider: provider === '-' ? undefined : provider,
        expected: expected ?? '',
        reply: rest
          .join('\t')
          .replace(/\\r\\n/g, '\r\n')
          .replace(/\\n/g, '\n'),
      });
    });
  return rows;
}

const rows = corpus();

t.test('the corpus is well formed and large enough', async (t) => {
  t.ok(rows.length >= 60, `${rows.length} rows`);
  for (const row of rows) {
    t.ok(isCategory(row.expected), `line ${row.line}: category ${row.expected}`);
    if (row.provider !== undefined) t.ok(known.has(row.provider), `line ${row.line}: provider ${row.provider}`);
  }
});

t.test('every corpus row classifies as expected with the shipped rules', async (t) => {
  for (const row of rows) {
    const got = classify(parseReply(row.reply), row.provider, rules);
    t.equal(got.category, row.expected, `line ${row.line} (${got.rule?.name ?? 'no rule'}): ${row.reply.slice(0, 70)}`);
  }
});

t.test('no dead rules: every shipped rule decides at least one corpus row', async (t) => {
  const used = new Set<string>();
  for (const row of rows) {
    const name = classify(parseReply(row.reply), row.provider, rules).rule?.name;
    if (name) used.add(name);
  }
  const names = [...new Set(rules.map((r) => r.name))];
  t.ok(names.length >= 40, `${names.length} rules`);
  for (const name of names) t.ok(used.has(name), `rule ${name} is hit`);
});

t.test('rule order: provider rules first, never for another provider', async (t) => {
  const busy = parseReply('451 4.7.500 Server busy. Please try again later from [192.0.2.1]. (AS843)');
  const ms = classify(busy, 'microsoft365', rules);
  t.equal(ms.category, 'throttle');
  t.equal(ms.rule?.name, 'microsoft-as-throttling', 'beats the generic try-again-later rule');
  t.equal(classify(busy, 'outlook', rules).rule?.name, 'microsoft-as-throttling', 'one rule, both Microsoft providers');
  for (const other of ['google', 'yahoo', undefined]) {
    const got = classify(busy, other, rules);
    t.not(got.rule?.provider, 'microsoft365', `not a Microsoft rule for ${other}`);
    t.equal(got.category, 'transient', `generic reading for ${other}`);
  }
  const tss04 = parseReply(
    '421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints',
  );
  t.equal(classify(tss04, 'yahoo', rules).rule?.name, 'yahoo-tss04');
  t.equal(classify(tss04, 'yahoo', rules).rule?.durationMs, 2 * 3_600_000, 'Yahoo: stop 2 hours');
  t.equal(classify(tss04, 'google', rules).category, 'unknown', 'Yahoo rule not used for Google');
  const conn = parseReply(
    '451 4.7.652 The mail server [192.0.2.1] has exceeded the maximum number of connections. (S3115)',
  );
  t.equal(classify(conn, 'outlook', rules).category, 'connections', 'text rule before the 4.7.5xx-6xx range');
  const grey = parseReply('422 4.2.2 Greylisted, please try again in a few moments.');
  t.equal(
    classify(grey, undefined, rules).rule?.name,
    'greylisted',
    'greylisting before the mailbox-full reading of 4.2.2',
  );
  const dbl = parseReply('550 5.7.1 Your email was rejected due to having a domain present in the Spamhaus DBL');
  t.equal(
    classify(dbl, undefined, rules).category,
    'message',
    'Spamhaus DBL lists domains, before the generic Spamhaus rule',
  );
});

t.test('first match wins and local rules come before shipped ones', async (t) => {
  const doc = {
    local_rules: [{ name: 'mine', text: 'server busy', category: 'suspend', duration: '10m' }],
    rules: [
      { name: 'generic-busy', text: 'busy', category: 'transient' },
      { name: 'ms-busy', provider: 'microsoft365', text: 'busy', category: 'throttle' },
    ],
  };
  const issues = new IssueList('x.yaml');
  const list = parseRules(issues, doc, known);
  t.same(issues.issues, []);
  t.same(
    list.map((r) => r.name),
    ['mine', 'generic-busy', 'ms-busy'],
  );
  const reply = parseReply('451 4.7.500 Server BUSY');
  t.equal(classify(reply, 'microsoft365', list).rule?.name, 'ms-busy', 'provider rule beats a local generic rule');
  t.equal(classify(reply, 'google', list).rule?.name, 'mine', 'local generic rule beats a shipped generic rule');
  t.same(classify(parseReply('250 ok'), 'google', list), { category: 'unknown' }, 'no match: unknown, no rule');
  const empty: Rule[] = [];
  t.same(classify(reply, undefined, empty), { category: 'unknown' });
});

t.test('a provider list gives one rule per provider; lists and rules are frozen', async (t) => {
  const issues = new IssueList('x.yaml');
  const list = parseRules(
    issues,
    {
      rules: [
        {
          name: 'both',
          provider: ['google', 'yahoo'],
          code: '^4',
          category: 'throttle',
          threshold: { count: 2, window: '1h' },
        },
      ],
    },
    known,
  );
  t.same(
    list.map((r) => [r.name, r.provider, r.threshold]),
    [
      ['both', 'google', { count: 2, windowMs: 3_600_000 }],
      ['both', 'yahoo', { count: 2, windowMs: 3_600_000 }],
    ],
  );
  t.ok(Object.isFrozen(list) && list.every((r) => Object.isFrozen(r)));
  t.ok(Object.isFrozen(rules));
});

/** The messages parseRules reports for a document. */
function problems(doc: unknown): string[] {
  const issues = new IssueList('paceline-replies.yaml');
  parseRules(issues, doc, known);
  return issues.issues.map(formatIssue);
}

t.test('every problem is reported with file, key path, value and expectation', async (t) => {
  const got = problems({
    rules: [
      { name: 'ok', text: 'x', category: 'throttle' },
      { name: 'bad-regex', text: '(unclosed', category: 'throttle' },
      { name: 'bad-category', code: '^4', category: 'slow' },
      { name: 'bad-provider', provider: 'hotmail', code: '^4', category: 'throttle' },
      { name: 'bad-duration', text: 'x', category: 'suspend', duration: 'soon' },
      { name: 'default-duration', text: 'x', category: 'suspend' },
      { name: 'pointless-duration', text: 'x', category: 'recipient', duration: '1h' },
      { name: 'bad-threshold', text: 'x', category: 'throttle', threshold: { count: 0, window: 'never', extra: 1 } },
      { name: 'ok', colour: 'red', category: 'transient' },
      'not a rule',
    ],
    local_rules: { name: 'not a list' },
    extra: true,
  });
  const want = [
    /^paceline-replies\.yaml: extra: got true, expected no such key \(allowed: rules, local_rules\)$/,
    /^paceline-replies\.yaml: local_rules: got \{"name":"not a list"\}, expected a list of rules$/,
    /^paceline-replies\.yaml: rules\[1\]\.text: got "\(unclosed", expected a valid JavaScript regular expression/,
    /^paceline-replies\.yaml: rules\[2\]\.category: got "slow", expected one of throttle, connections, suspend, blocked, recipient, message, transient, unknown$/,
    /^paceline-replies\.yaml: rules\[3\]\.provider: got "hotmail", expected a provider name or a list of them \(providers: apple, comcast, gmx, google, microsoft365, orange, outlook, yahoo\)$/,
    /^paceline-replies\.yaml: rules\[4\]\.duration: got "soon", expected a duration above zero/,
    /^paceline-replies\.yaml: rules\[6\]\.duration: got "1h", expected no duration: only throttle, connections, suspend reactions last a while$/,
    /^paceline-replies\.yaml: rules\[7\]\.threshold\.extra: got 1, expected no such key/,
    /^paceline-replies\.yaml: rules\[7\]\.threshold\.count: got 0, expected a whole number of matches ≥ 1$/,
    /^paceline-replies\.yaml: rules\[7\]\.threshold\.window: got "never", expected a duration above zero/,
    /^paceline-replies\.yaml: rules\[8\]\.name: got "ok", expected a name not used before \(already used at rules\[0\]\)$/,
    /^paceline-replies\.yaml: rules\[8\]\.colour: got "red", expected no such key/,
    /^paceline-replies\.yaml: rules\[8\]: got .*, expected at least one of code, enhanced, text/,
    /^paceline-replies\.yaml: rules\[9\]: got "not a rule", expected a mapping with name, category/,
  ];
  t.equal(got.length, want.length, got.join('\n'));
  for (const re of want)
    t.ok(
      got.some((line) => re.test(line)),
      `reported: ${re.source}`,
    );
  t.same(problems({ rules: [{ name: 'x', text: 'y', category: 'message', provider: ['google', 7] }] }), [
    'paceline-replies.yaml: rules[0].provider[1]: got 7, expected a provider name or a list of them (providers: apple, comcast, gmx, google, microsoft365, orange, outlook, yahoo)',
  ]);
  t.same(problems(['a list']), [
    'paceline-replies.yaml: got ["a list"], expected a YAML mapping with rules and/or local_rules',
  ]);
  t.same(problems(null), [], 'an empty file is no rules');
});

t.test('YAML syntax errors carry a line number; the shipped file is valid', async (t) => {
  t.throws(() => rulesFromText('r.yaml', 'rules:\n  - name: a\n   bad: [', known), ConfigError);
  try {
    rulesFromText('r.yaml', 'rules:\n  - name: a\n  - name: a\n    text: x\n    category: nope\n', known);
    t.fail('should throw');
  } catch (err) {
    t.ok(err instanceof ConfigError);
    t.match((err as ConfigError).message, /r\.yaml: rules\[1\]\.category: got "nope"/);
  }
  const shipped = parse(
    fs.readFileSync(path.join(__dirname, '..', '..', 'config', 'paceline-replies.yaml'), 'utf8'),
  ) as { rules: unknown[] };
  t.ok(shipped.rules.length >= 40, `${shipped.rules.length} shipped rules`);
});

t.test('every shipped rule cites its source in a comment', async (t) => {
  const text = fs.readFileSync(path.join(__dirname, '..', '..', 'config', 'paceline-replies.yaml'), 'utf8');
  const blocks = text.split(/\n(?= {2}# Source:)/).slice(1);
  const named = blocks.flatMap((b) => [...b.matchAll(/^ {2}- name: (\S+)/gm)].map((m) => m[1]));
  t.same(new Set(named), new Set(rules.map((r) => r.name)), 'every rule sits under a "# Source:" comment');
  for (const b of blocks)
    t.equal([...b.matchAll(/^ {2}- name:/gm)].length, 1, `one rule per source comment: ${b.slice(0, 60)}`);
});
