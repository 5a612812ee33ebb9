/**
 * A tiny RESP2 client for tests: one command per connection to a Redis
 * server or sentinel on loopback, enough to inspect and steer the servers
 * the tests start (test/helpers/redis.ts) without going through ioredis.
 */

import net from 'node:net';

const HOST = '127.0.0.1';

export type Reply = string | number | null | Error | Reply[];

/** Parses one RESP2 reply from `buf` at `at`; undefined when incomplete. */
function parse(buf: Buffer, at: number): { value: Reply; next: number } | undefined {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const line = buf.toString('utf8', at + 1, eol);
  const type = String.fromCharCode(buf[at] as number);
  if (type === '+') return { value: line, next: eol + 2 };
  if (type === '-') return { value: new Error(line), next: eol + 2 };
  if (type === ':') return { value: Number(line), next: eol + 2 };
  const n = Number(line);
  if (type === '$') {
    if (n < 0) return { value: null, next: eol + 2 };
    return buf.length < eol + 2 + n + 2
      ? undefined
      : { value: buf.toString('utf8', eol + 2, eol + 2 + n), next: eol + 2 + n + 2 };
  }
  if (n < 0) return { value: null, next: eol + 2 };
  const items: Reply[] = [];
  let next = eol + 2;
  for (let i = 0; i < n; i++) {
    const r = parse(buf, next);
    if (!r) return undefined;
    items.push(r.value);
    next = r.next;
  }
  return { value: items, next };
}

/** Passwords of servers started with requirepass, by port: `command` logs in with them first. */
const passwords = new Map<number, string>();

/** From now on, `command` sends AUTH `password` before each command to `port`. */
export function usePassword(port: number, password: string): void {
  passwords.set(port, password);
}

function encode(args: ReadonlyArray<string | number>): string {
  const parts = args.map(String);
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
}

/** Sends one command to a server (or sentinel) on loopback and returns its reply; a Redis error rejects. */
export function command(port: number, ...args: Array<string | number>): Promise<Reply> {
  const password = passwords.get(port);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port });
    let buf = Buffer.alloc(0);
    socket.setTimeout(5000, () => socket.destroy(new Error(`redis ${HOST}:${port}: timeout on ${args.join(' ')}`)));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      const auth = password === undefined ? { value: 'OK' as Reply, next: 0 } : parse(buf, 0);
      const r = auth && parse(buf, auth.next);
      if (!auth || !r) return;
      socket.end();
      if (auth.value instanceof Error) reject(auth.value);
      else if (r.value instanceof Error) reject(r.value);
      else resolve(r.value);
    });
    socket.write(`${password === undefined ? '' : encode(['AUTH', password])}${encode(args)}`);
  });
}

/** Polls `probe` every 25 ms until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** `INFO section` as a map of field → value. */
export async function info(port: number, section: string): Promise<Map<string, string>> {
  const text = String(await command(port, 'INFO', section));
  return new Map(
    text
      .split('\r\n')
      .filter((l) => l.includes(':'))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
  );
}
