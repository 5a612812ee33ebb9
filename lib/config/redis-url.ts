/**
 * Parses `redis://[user[:password]@]host[:port][/db]` (or `rediss://`) here,
 * not in ioredis: a URL parser's error carries the whole URL, password
 * included, and a password with a raw `/`, `@`, `#` or `?` either breaks the
 * URL or is read as host and path. So a user name or password must be
 * percent-encoded, every error says how without echoing it, and `maskUrl`
 * shows a URL with its password replaced by `***`, whatever it contains.
 */

/** What a Redis URL says: where the server is and, optionally, who logs in. */
export interface RedisEndpoint {
  readonly tls: boolean;
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  readonly db?: number;
}

/** How to write a user name or password into a URL; part of every userinfo error. */
export const ENCODE_HINT =
  'percent-encode the user name and password (e.g. "/" as %2F, "@" as %40, ":" as %3A, "#" as %23, "?" as %3F, ' +
  '"%" as %25; encodeURIComponent() does it), or set [redis].password instead';

/** Characters a userinfo may hold as they are (RFC 3986 unreserved and sub-delims, ":" and %XX escapes). */
const USERINFO = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:]|%[0-9A-Fa-f]{2})*$/;
const HOST_PART = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?(?:\/(\d{0,2}))?$/;

function splitUrl(text: string): { scheme: string; userinfo?: string; hostPart: string } | undefined {
  const m = /^(rediss?):\/\/(.*)$/s.exec(text);
  if (!m) return undefined;
  const rest = m[2] as string;
  const at = rest.lastIndexOf('@');
  const scheme = m[1] as string;
  return at < 0 ? { scheme, hostPart: rest } : { scheme, userinfo: rest.slice(0, at), hostPart: rest.slice(at + 1) };
}

function decode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/** The URL's parts, or a message saying what is wrong (which never contains the userinfo). */
export function parseRedisUrl(text: string): { endpoint: RedisEndpoint } | { error: string } {
  const parts = splitUrl(text);
  if (!parts) {
    return { error: 'a URL starting with redis:// or rediss:// (TLS): redis://[user:password@]host[:port][/db]' };
  }
  let username: string | undefined;
  let password: string | undefined;
  if (parts.userinfo !== undefined) {
    const colon = parts.userinfo.indexOf(':');
    const user = decode(colon < 0 ? parts.userinfo : parts.userinfo.slice(0, colon));
    const pass = colon < 0 ? undefined : decode(parts.userinfo.slice(colon + 1));
    if (!USERINFO.test(parts.userinfo) || user === undefined || (colon >= 0 && pass === undefined)) {
      return { error: `a URL whose user name and password are percent-encoded: ${ENCODE_HINT}` };
    }
    if (user !== '') username = user;
    if (pass !== undefined && pass !== '') password = pass;
  }
  const m = HOST_PART.exec(parts.hostPart);
  const port = m?.[2] === undefined ? 6379 : Number(m[2]);
  const db = m?.[3] ? Number(m[3]) : undefined;
  if (!m || port < 1 || port > 65535) {
    return { error: 'host[:port][/db] after the "@" (or after "//"), e.g. redis://127.0.0.1:6379/0' };
  }
  if (db !== undefined && db > 15) return { error: 'a database number 0-15 after the host' };
  const host = (m[1] as string).replace(/^\[|\]$/g, '');
  const login = { ...(username ? { username } : {}), ...(password ? { password } : {}) };
  return { endpoint: { tls: parts.scheme === 'rediss', host, port, ...login, ...(db !== undefined ? { db } : {}) } };
}

/**
 * The URL for humans: `redis://***@host:6379/0`. Everything before the last
 * "@" (where any user name and password are) and any query is replaced, valid URL or not.
 */
export function maskUrl(text: string): string {
  const parts = splitUrl(text);
  if (!parts) return text.includes('@') ? '(hidden: it may contain a password)' : text;
  // a query (?password=...) may carry secrets too: never shown
  const hostPart = parts.hostPart.replace(/[?#].*$/s, '?***');
  return `${parts.scheme}://${parts.userinfo === undefined ? '' : '***@'}${hostPart}`;
}

/** Every password of a connection: the URL's, [redis].password and the Sentinel password. */
export function secretsOf(s: { url?: string; password?: string; sentinel?: { password?: string } }): string[] {
  const parsed = s.url ? parseRedisUrl(s.url) : undefined;
  const fromUrl = parsed && 'endpoint' in parsed ? parsed.endpoint.password : undefined;
  return [fromUrl, s.password, s.sentinel?.password].filter((x): x is string => typeof x === 'string' && x !== '');
}

/** `text` with every secret (and its percent-encoded form) replaced by `***`: for messages from libraries. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('***');
  }
  return out;
}
