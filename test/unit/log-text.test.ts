/** logText: what an outside value looks like in a log line. */
import t from 'tap';
import { LOG_TEXT_MAX, logText } from '../../lib/core/log-text';

t.test('controls are escaped, printable text is kept', async (t) => {
  const cases: Array<[string, string]> = [
    ['bulk', 'bulk'],
    ['a\u0000b', 'a\\x00b'],
    ['\u001b[31mred', '\\x1b[31mred'],
    ['two\r\nlines', 'two\\x0d\\x0alines'],
    ['tab\there', 'tab\\x09here'],
    ['del\u007f c1\u0085', 'del\\x7f c1\\x85'],
    ['sep\u2028par\u2029', 'sep\\u2028par\\u2029'],
    ['bidi\u202eevil\u2066', 'bidi\\u202eevil\\u2066'],
    ['accents é ü 中文 😀', 'accents é ü 中文 😀'],
  ];
  for (const [input, want] of cases) t.equal(logText(input), want, want);
});

t.test('long values are cut with a marker saying how much was left out', async (t) => {
  const long = 'x'.repeat(10_240);
  const out = logText(long);
  t.equal(out, `${'x'.repeat(LOG_TEXT_MAX)}…[${10_240 - LOG_TEXT_MAX} more chars]`);
  t.equal(logText('abcdef', 3), 'abc…[3 more chars]');
  t.equal(logText('abc', 3), 'abc', 'no marker at the limit');
  const worst = logText('\u0000'.repeat(10_000));
  t.ok(worst.length <= LOG_TEXT_MAX * 4 + 30, `all-NUL 10 000 chars → ${worst.length} chars`);
  t.notMatch(worst, /[\u0000-\u001f]/);
  t.equal(logText('a😀', 3), 'a😀', 'a pair within the limit is kept (it counts as 2)');
  t.equal(logText('ab😀c', 3), 'ab…[3 more chars]', 'a cut never leaves half a surrogate pair');
});

t.test('escaped text escapes to itself; non-strings are stringified', async (t) => {
  const once = logText('a\u0000\u001bb\u2028');
  t.equal(logText(once), once);
  t.equal(logText(42), '42');
  t.equal(logText(undefined), 'undefined');
});
