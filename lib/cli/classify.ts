/**
 * `paceline classify [--mx HOST] [--json] [--config HARAKA_DIR]`: reads remote
 * replies from stdin, one per line, and shows what paceline would make of
 * each: category, provider, rule and reaction. Lets an operator test a rule
 * against the lines in their logs before a server relies on it.
 */

import readline from 'node:readline';
import { BUILTIN_PROVIDERS } from '../config/builtin-providers';
import { ConfigError, formatIssue } from '../config/errors';
import { loadConfigFromDir } from '../config/load';
import { loadShippedRules } from '../config/replies';
import { classify, type Category, type Rule, type RuleMatch } from '../core/classify';
import { formatDurationMs } from '../core/duration';
import { ProviderMatcher } from '../core/providers';
import { MAX_REPLY_CHARS, parseReply, type Reply } from '../core/reply';
import type { Output } from './check';

export const CLASSIFY_USAGE = `usage: paceline classify [--mx HOST] [--json] [--config HARAKA_DIR]
  reads replies from stdin, one per line ("\\n" in a line is a line break)
  --mx HOST          classify for the provider of this MX host
  --json             one JSON object per line
  --config DIR       use the providers and rules a Haraka server in DIR would load`;

/** What the lane does for each category, in words for operators. */
const REACTIONS: Readonly<Record<Category, string>> = {
  throttle: 'slow the lane to the pace the provider accepted and pause briefly',
  connections: "cap the lane's concurrency at half of what is in force, for connections_duration",
  suspend: 'stop the lane for a while, then resume carefully',
  blocked: 'stop the lane until an operator acts or a slow trial succeeds',
  recipient: 'about one mailbox: no pacing change',
  message: "about this message or the sender's domain: no pacing change",
  transient: 'retry normally: no pacing change',
  unknown: 'no rule matched',
};

/** How a rule's duration reads for each category that has one. */
const DURATION_WORDS: Partial<Record<Category, string>> = {
  throttle: 'pause',
  connections: 'cap lasts',
  suspend: 'for',
};

interface Options {
  mx?: string;
  json: boolean;
  config?: string;
}

/** Parses the arguments; a string is a usage error. */
function options(args: readonly string[]): Options | string {
  const opts: Options = { json: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--json') opts.json = true;
    else if (arg === '--mx' || arg === '--config') {
      const value = args[++i];
      if (value === undefined || value === '') return `${arg} needs a value`;
      if (arg === '--mx') opts.mx = value;
      else opts.config = value;
    } else return `unknown argument "${arg ?? ''}"`;
  }
  return opts;
}

interface Setup {
  rules: readonly Rule[];
  provider?: string;
}

/** Rules and the MX host's provider, from the Haraka dir or from what paceline ships. */
function setup(opts: Options): Setup {
  let rules: readonly Rule[];
  let matcher: ProviderMatcher;
  if (opts.config) {
    const config = loadConfigFromDir(opts.config);
    matcher = config.matcher;
    rules = config.rules;
  } else {
    matcher = new ProviderMatcher(Object.entries(BUILTIN_PROVIDERS).map(([name, p]) => ({ name, mxSuffixes: p.mx })));
    rules = loadShippedRules();
  }
  return { rules, ...(opts.mx ? { provider: matcher.match([opts.mx]) } : {}) };
}

/** The reaction in words, with the rule's duration and threshold when it has them. */
export function reaction(result: RuleMatch, reply: Reply): string {
  const rule = result.rule;
  let text = REACTIONS[result.category];
  if (result.category === 'unknown') {
    const cls = reply.code === undefined ? undefined : Math.floor(reply.code / 100);
    text +=
      cls === 4
        ? ': 4xx, retried as transient, no pacing change'
        : cls === 5
          ? ': 5xx, permanent failure, no pacing change'
          : ': no pacing change';
  }
  if (rule?.durationMs !== undefined)
    text += `; ${DURATION_WORDS[result.category] ?? 'for'} ${formatDurationMs(rule.durationMs)}`;
  if (rule?.threshold)
    text += `; after ${rule.threshold.count} matches in ${formatDurationMs(rule.threshold.windowMs)}`;
  return text;
}

/** One output line for one input line. */
function describe(line: string, found: Setup, opts: Options): string {
  // Exim and others log multi-line replies with literal "\n" between lines.
  const reply = parseReply(line.slice(0, 2 * MAX_REPLY_CHARS).replace(/\\r\\n|\\n/g, '\n'));
  const result = classify(reply, found.provider, found.rules);
  const how = reaction(result, reply);
  if (opts.json) {
    return JSON.stringify({
      reply: reply.raw,
      ...(opts.mx ? { provider: found.provider } : {}),
      category: result.category,
      rule: result.rule?.name ?? null,
      reaction: how,
      code: reply.code ?? null,
      enhanced: reply.enhanced ?? null,
    });
  }
  return [result.category, ...(opts.mx ? [found.provider ?? ''] : []), result.rule?.name ?? '-', how].join('\t');
}

/** Runs the command; returns the exit code: 0 done, 1 invalid config, 2 usage or read error. */
export async function classifyCommand(args: string[], input: NodeJS.ReadableStream, io: Output): Promise<number> {
  const opts = options(args);
  if (typeof opts === 'string') {
    io.err(`paceline classify: ${opts}\n${CLASSIFY_USAGE}`);
    return 2;
  }
  let found: Setup;
  try {
    found = setup(opts);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(
      `paceline classify: invalid configuration (${err.issues.length} problem${err.issues.length === 1 ? '' : 's'}):`,
    );
    for (const issue of err.issues) io.err(`  ${formatIssue(issue)}`);
    return 1;
  }
  const lines = readline.createInterface({ input, crlfDelay: Infinity, terminal: false });
  try {
    for await (const line of lines) {
      if (line.trim() !== '') io.out(describe(line, found, opts));
    }
  } catch (err) {
    io.err(`paceline classify: cannot read input: ${(err as Error).message}`);
    return 2;
  }
  return 0;
}
