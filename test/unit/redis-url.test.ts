/**
 * Redis URLs are parsed by paceline (not by a URL parser whose errors echo the
 * URL): a password with any URL-special character is either read exactly
 * (percent-encoded, or raw where RFC 3986 allows it) or refused with a message
 * that says how to encode it, and no message, mask or log line ever shows it.
 */

import t from 'tap';
import { buildConfig } from '../../lib/config/load';
import { ConfigError, formatIssue } from '../../lib/config/errors';
import { describeRedis } from '../../lib/config/redis-settings';
import { maskUrl, parseRedisUrl, redact } from '../../lib/config/redis-url';

/** Every character with a meaning in a URL, plus space, quotes and backslash. */
export const SPECIAL = [...':/?#[]@!$&\'()*+,;=% "\\<>^`{|}'];
const secretWith = (c: string) => `S3cr${c}tPw`;
/** The secret or a large piece of it: a partial mask (`***@ssW0rd@host`) counts as a leak. */
const leaks = (text: string, secret: string) => text.includes(secret) || text.includes('S3cr') || text.includes('tPw');

function configText(ini: unknown): string {
  try {
    const c = buildConfig(ini, {});
    return c.settings.redis ? describeRedis(c.settings.redis) : '';
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return `${err.message}\n${err.issues.map(formatIssue).join('\n')}`;
  }
}

t.test('a percent-encoded password with any special character is read exactly and never shown', async (t) => {
  for (const c of SPECIAL) {
    const secret = secretWith(c);
    const url = `redis://user:${encodeURIComponent(secret)}@127.0.0.1:6380/3`;
    const parsed = parseRedisUrl(url);
    t.same(
      parsed,
      { endpoint: { tls: false, host: '127.0.0.1', port: 6380, username: 'user', password: secret, db: 3 } },
      `encoded ${JSON.stringify(c)}`,
    );
    const text = configText({ main: { store: 'redis' }, redis: { url } });
    t.match(text, /^redis redis:\/\/\*\*\*@127\.0\.0\.1:6380\/3,/, `ready line for ${JSON.stringify(c)}: ${text}`);
    t.notOk(leaks(text, secret), `no secret in ${text}`);
  }
});

t.test(
  'a raw special character is read exactly where RFC 3986 allows it, else refused with how to encode',
  async (t) => {
    const allowedRaw = new Set([..."!$&'()*+,;=:-._~"]);
    for (const c of [...SPECIAL, ...'-._~']) {
      const secret = secretWith(c);
      const url = `redis://:${secret}@127.0.0.1:6379`;
      const parsed = parseRedisUrl(url);
      const text = configText({ main: { store: 'redis' }, redis: { url } });
      if (allowedRaw.has(c)) {
        t.same(
          parsed,
          { endpoint: { tls: false, host: '127.0.0.1', port: 6379, password: secret } },
          `raw ${JSON.stringify(c)} is read`,
        );
      } else {
        t.ok('error' in parsed, `raw ${JSON.stringify(c)} is refused`);
        t.match(
          text,
          /\[redis\]\.url: got "(redis:\/\/\*\*\*@[^"]*|\(hidden[^"]*)", expected a URL whose user name and password are percent-encoded/,
        );
        t.match(text, /"\/" as %2F, "@" as %40/, 'the message says how to encode');
      }
      t.notOk(leaks(text, secret), `raw ${JSON.stringify(c)}: no secret in ${text}`);
      t.notOk(leaks(maskUrl(url), secret), `mask of raw ${JSON.stringify(c)}: ${maskUrl(url)}`);
    }
  },
);

t.test('masks hide the userinfo and any query of any URL, valid or not', async (t) => {
  t.equal(maskUrl('redis://:p@ssW0rd@127.0.0.1:6379'), 'redis://***@127.0.0.1:6379', 'the last "@" ends the userinfo');
  t.equal(maskUrl('rediss://u:a/b?c#d@r.example:6380/1'), 'rediss://***@r.example:6380/1');
  t.equal(maskUrl('redis://r.example:6379/0?password=S3crtPw'), 'redis://r.example:6379/0?***');
  t.equal(maskUrl('http://u:S3crtPw@x'), '(hidden: it may contain a password)');
  t.equal(maskUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379', 'nothing to hide');
  t.equal(redact('WRONGPASS S3cr/tPw S3cr%2FtPw', ['S3cr/tPw']), 'WRONGPASS *** ***', 'raw and encoded forms');
});

t.test('misspelt [redis] keys and sections never show their values', async (t) => {
  const text = configText({
    main: { store: 'redis' },
    redis: { url: 'redis://127.0.0.1:6379', pasword: 'S3crXtPw' },
    rediss: { password: 'S3crYtPw' },
  });
  t.match(text, /\[redis\]\.pasword: got "\*\*\*", expected no such key/);
  t.match(text, /rediss: got "a section with keys password", expected no such key/);
  t.notOk(leaks(text, 'S3crXtPw'), text);
});

t.test('URL mistakes other than the userinfo', async (t) => {
  t.match(parseRedisUrl('redis://127.0.0.1:99999'), { error: /host\[:port\]\[\/db\]/ });
  t.match(parseRedisUrl('redis://127.0.0.1:6379/16'), { error: /database number 0-15/ });
  t.match(parseRedisUrl('redis://u:%zz@h'), { error: /percent-encoded/ }, 'a broken %XX escape');
  t.same(parseRedisUrl('rediss://[::1]:6380'), { endpoint: { tls: true, host: '::1', port: 6380 } });
  t.same(parseRedisUrl('redis://h'), { endpoint: { tls: false, host: 'h', port: 6379 } });
});
