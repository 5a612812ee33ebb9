import t from 'tap';
import { MAX_REPLY_CHARS, parseReply } from '../../lib/core/reply';

type Want = { code?: number; enhanced?: string; text: string };

t.test('codes and text are split off, in every shape Haraka reports', async (t) => {
  const table: Array<[string, Want]> = [
    [
      'Upstream error: 451 4.7.500 Server busy. Please try again later from [1.2.3.4]. (AS843) [BN8NAM11FT066.eop-nam11.prod.protection.outlook.com]',
      {
        code: 451,
        enhanced: '4.7.500',
        text: 'Server busy. Please try again later from [1.2.3.4]. (AS843) [BN8NAM11FT066.eop-nam11.prod.protection.outlook.com]',
      },
    ],
    ['451 4.7.500 Server busy.', { code: 451, enhanced: '4.7.500', text: 'Server busy.' }],
    [
      '550 5.7.606 Access denied, banned sending IP [192.0.2.1].',
      { code: 550, enhanced: '5.7.606', text: 'Access denied, banned sending IP [192.0.2.1].' },
    ],
    [
      '550 5.1.10 RESOLVER.ADR.RecipientNotFound',
      { code: 550, enhanced: '5.1.10', text: 'RESOLVER.ADR.RecipientNotFound' },
    ],
    [
      '421 4.7.0 [TSS04] Messages from 1.2.3.4 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes',
      {
        code: 421,
        enhanced: '4.7.0',
        text: '[TSS04] Messages from 1.2.3.4 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes',
      },
    ],
    ['421 Max message per connection reached', { code: 421, text: 'Max message per connection reached' }],
    ['552 1 Requested mail action aborted', { code: 552, text: '1 Requested mail action aborted' }],
    ['421 temporary envelope failure (#4.3.0)', { code: 421, text: 'temporary envelope failure (#4.3.0)' }],
    ['451 #4.3.0 qmail says so', { code: 451, enhanced: '4.3.0', text: 'qmail says so' }],
    ['421-', { code: 421, text: '' }],
    ['550', { code: 550, text: '' }],
    ['Tried all MXs', { text: 'Tried all MXs' }],
    ['connect ECONNREFUSED 192.0.2.1:25', { text: 'connect ECONNREFUSED 192.0.2.1:25' }],
    ['  Upstream error:   421   4.4.5   Server   busy  ', { code: 421, enhanced: '4.4.5', text: 'Server busy' }],
    ['4.4.7 Delivery time expired', { enhanced: '4.4.7', text: 'Delivery time expired' }],
    ['4210 not a code', { text: '4210 not a code' }],
    ['600 6.1.1 not SMTP', { text: '600 6.1.1 not SMTP' }],
    ['451 4.7.5000 four digits', { code: 451, text: '4.7.5000 four digits' }],
    ['', { text: '' }],
  ];
  for (const [raw, want] of table) {
    const got = parseReply(raw);
    t.same(
      { code: got.code, enhanced: got.enhanced, text: got.text },
      { code: undefined, enhanced: undefined, ...want },
      JSON.stringify(raw),
    );
    t.equal(got.raw, raw, 'raw kept');
  }
});

t.test('multi-line replies join into one text without repeated prefixes', async (t) => {
  const gmail =
    '421-4.7.28 [1.2.3.4 15] Our system has detected an unusual rate of\r\n421-4.7.28 unsolicited mail originating from your IP address. To protect our\r\n421 4.7.28 users from spam, mail sent from your IP address has been temporarily rate limited.';
  const want =
    '[1.2.3.4 15] Our system has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.';
  for (const joined of [
    gmail,
    gmail.replace(/\r\n/g, '\n'),
    gmail.replace(/\r\n/g, '\r'),
    `${gmail}\r\n`,
    `\r\n\r\n${gmail}`,
  ]) {
    t.same(parseReply(joined), { code: 421, enhanced: '4.7.28', text: want, raw: joined });
  }
  // Haraka joins the lines with spaces and keeps the enhanced code it could not parse.
  const haraka =
    'Upstream error: 421 4.7.28 [1.2.3.4 15] Our system has detected an unusual rate of 4.7.28 unsolicited mail originating from your IP address. To protect our 4.7.28 users from spam, mail sent from your IP address has been temporarily rate limited.';
  t.equal(parseReply(haraka).text, want, 'Haraka-joined');
  // Postfix logs keep the whole continuation prefix inline.
  const postfix =
    '450-4.2.1 The user is receiving mail at a rate that 450-4.2.1 prevents additional messages 450 4.2.1 https://support.google.com/mail/answer/6592';
  t.equal(
    parseReply(postfix).text,
    'The user is receiving mail at a rate that prevents additional messages https://support.google.com/mail/answer/6592',
  );
  const gmx =
    '554-gmx.net (mxgmx104) Nemesis ESMTP Service not available\n554-No SMTP service\n554-IP address is block listed.\n554 For explanation visit https://postmaster.gmx.net/';
  t.same(parseReply(gmx), {
    code: 554,
    text: 'gmx.net (mxgmx104) Nemesis ESMTP Service not available No SMTP service IP address is block listed. For explanation visit https://postmaster.gmx.net/',
    raw: gmx,
  });
  const other = parseReply('550-5.7.1 first\n550-5.7.26 second\nthird');
  t.equal(other.text, 'first 5.7.26 second third', 'a different enhanced code on a later line stays');
  t.equal(parseReply('550 5.1.1 <a@b>: no (5.1.1)').text, '<a@b>: no (5.1.1)', 'codes inside the text stay');
});

t.test('input beyond 4 KiB is cut before parsing', async (t) => {
  const long = `451 4.7.500 ${'x'.repeat(10_000)}`;
  const r = parseReply(long);
  t.equal(r.raw.length, MAX_REPLY_CHARS);
  t.equal(r.code, 451);
  t.equal(r.text.length, MAX_REPLY_CHARS - '451 4.7.500 '.length);
});

function randomString(rand: () => number, maxLen: number): string {
  const len = Math.floor(rand() * maxLen);
  let s = '';
  for (let i = 0; i < len; i++) {
    const pick = rand();
    // mostly bytes, some SMTP-looking pieces, some astral and lone surrogates
    if (pick < 0.05)
      s += ['421-', '4.7.', '\r\n', 'Upstream error: ', '550 5.7.606 ', '\u0000', '\ud800'][Math.floor(rand() * 7)];
    else s += String.fromCharCode(Math.floor(rand() * (pick < 0.9 ? 256 : 0xffff)));
  }
  return s;
}

t.test('fuzz: random input never throws and parses fast', async (t) => {
  let seed = 42;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const started = process.hrtime.bigint();
  let ok = 0;
  for (let i = 0; i < 2000; i++) {
    const input = randomString(rand, 600);
    const r = parseReply(input);
    if (typeof r.text === 'string' && r.raw === input.slice(0, MAX_REPLY_CHARS) && !/[\r\n]/.test(r.text)) ok++;
    if (r.code !== undefined && !(r.code >= 200 && r.code <= 599)) t.fail(`bad code ${r.code}`);
  }
  t.equal(ok, 2000, 'every random input gives a well-formed Reply');
  const megabyte = parseReply(`421-4.7.0 ${'a 4.7.0 '.repeat(131_072)}`);
  t.equal(megabyte.raw.length, MAX_REPLY_CHARS, '1 MB line is cut');
  t.same(parseReply('\r\n\r\n\r\n'), { text: '', raw: '\r\n\r\n\r\n' }, 'CRLF only');
  t.same(parseReply('\u0000\u0000'), { text: '', raw: '\u0000\u0000' }, 'NUL only');
  t.same(parseReply(undefined as unknown as string), { text: '', raw: '' }, 'not a string');
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.ok(ms < 2000, `fuzz finished in ${ms.toFixed(0)} ms`);
});
