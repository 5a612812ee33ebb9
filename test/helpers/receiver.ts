import { EventEmitter } from 'node:events';
import { SMTPServer } from 'smtp-server';
import type { SMTPServerAddress, SMTPServerDataStream, SMTPServerError, SMTPServerSession } from 'smtp-server';

/** SMTP stage at which the receiver can answer with an override. */
export type ReplyStage = 'mail' | 'rcpt' | 'data';

/** What a {@link ReceiverOptions.reply} callback sees about the current command. */
export interface ReplyContext {
  stage: ReplyStage;
  /** smtp-server's id of the connection (unique per receiver) */
  sessionId: string;
  /** client source IP, '::ffff:' prefix stripped */
  remoteAddress: string;
  /** EHLO/HELO name given by the client */
  helo: string;
  mailFrom: string;
  /**
   * Recipients of the transaction. At stage 'rcpt' this is the recipients
   * accepted so far followed by the one being checked (always the last element).
   */
  rcptTo: string[];
  /** Message-ID header value, only known at stage 'data' */
  messageId?: string;
  /** Date.now() when the command was seen */
  now: number;
}

/**
 * What {@link ReceiverOptions.onConnect} and {@link ReceiverOptions.onClose}
 * see: a connection before its greeting, or once it has closed.
 */
export interface SessionContext {
  /** smtp-server's id of the connection, the same as {@link ReplyContext.sessionId} */
  sessionId: string;
  /** client source IP, '::ffff:' prefix stripped */
  remoteAddress: string;
  /** Date.now() when the connection was seen (or closed) */
  now: number;
}

/** A reply that replaces the receiver's default acceptance. */
export interface ReplyOverride {
  /** SMTP reply code, e.g. 451 or 550 */
  code: number;
  /** reply text sent verbatim after the code, e.g. '4.7.500 Server busy. Please try again later' */
  message: string;
}

/** One message accepted by the receiver. */
export interface Delivery {
  remoteAddress: string;
  helo: string;
  mailFrom: string;
  rcptTo: string[];
  /** Message-ID header as sent (angle brackets kept), '' if none */
  messageId: string;
  /** lower-cased header name → last value, unfolded */
  headers: Record<string, string>;
  /** Date.now() when DATA was accepted */
  receivedAt: number;
  /** message size in bytes */
  size: number;
}

/** One command the receiver answered with a {@link ReplyOverride}. */
export interface Rejection {
  /** 'connect': the greeting was replaced by the refusal and the connection closed */
  stage: ReplyStage | 'connect';
  remoteAddress: string;
  code: number;
  message: string;
  at: number;
}

/** Options of {@link startReceiver}. */
export interface ReceiverOptions {
  /** loopback address to listen on, default 127.0.0.1 */
  host?: string;
  /** port to listen on, default: a free one */
  port?: number;
  /** return an override to answer the stage with it; null/undefined accepts */
  reply?: (ctx: ReplyContext) => ReplyOverride | null | undefined;
  /**
   * Called for every new connection before the greeting; an override replaces
   * the 220 greeting (e.g. `451 4.7.500 ...`) and closes the connection.
   */
  onConnect?: (ctx: SessionContext) => ReplyOverride | null | undefined;
  /** Called once for every connection that closes, refused at connect or not. */
  onClose?: (ctx: SessionContext) => void;
  /**
   * ms to wait before answering a stage (a slow provider): at stage 'data' the
   * wait comes after the message was read, before the reply. A message whose
   * connection closed during the wait was never acknowledged: it is not recorded.
   */
  delay?: (ctx: ReplyContext) => number;
}

/** A running fake MX. */
export interface Receiver {
  host: string;
  port: number;
  /** accepted messages, in arrival order */
  deliveries: Delivery[];
  /** overridden replies, in order */
  rejections: Rejection[];
  /** resolves once deliveries.length >= count; rejects after timeoutMs saying how many arrived */
  waitFor(count: number, timeoutMs: number): Promise<void>;
  /** stops listening and drops remaining connections */
  close(): Promise<void>;
}

type ReplyFn = NonNullable<ReceiverOptions['reply']>;

/** Strips the IPv4-mapped IPv6 prefix ('::ffff:127.0.0.2' → '127.0.0.2'). */
function plainAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** Parses the header block of a raw message: lower-cased names, last value wins, unfolded. */
function parseHeaders(raw: Buffer): Record<string, string> {
  const text = raw.toString('utf8');
  const end = text.search(/\r?\n\r?\n/);
  const block = end === -1 ? text : text.slice(0, end);
  const headers: Record<string, string> = {};
  const unfolded = block.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

function sessionContext(session: SMTPServerSession, stage: ReplyStage): ReplyContext {
  const { mailFrom, rcptTo } = session.envelope;
  return {
    stage,
    sessionId: session.id,
    remoteAddress: plainAddress(session.remoteAddress),
    helo: session.hostNameAppearsAs || '',
    mailFrom: mailFrom ? mailFrom.address : '',
    rcptTo: rcptTo.map((r) => r.address),
    now: Date.now(),
  };
}

function smtpError(code: number, message: string): SMTPServerError {
  const err: SMTPServerError = new Error(message);
  err.responseCode = code;
  return err;
}

/** Receiver state and the SMTP handlers that update it. */
class ReceiverState {
  readonly deliveries: Delivery[] = [];
  readonly rejections: Rejection[] = [];
  readonly events = new EventEmitter();
  /** Ids of sessions that closed. */
  private readonly closed = new Set<string>();

  constructor(
    private readonly reply: ReplyFn | undefined,
    private readonly hooks: Pick<ReceiverOptions, 'onConnect' | 'onClose' | 'delay'> = {},
  ) {
    this.events.setMaxListeners(0);
  }

  /** Runs onConnect; returns the error that replaces the greeting, or null to greet. */
  onConnect(session: SMTPServerSession): SMTPServerError | null {
    const ctx = { sessionId: session.id, remoteAddress: plainAddress(session.remoteAddress), now: Date.now() };
    let override: ReplyOverride | null | undefined;
    try {
      override = this.hooks.onConnect?.(ctx);
    } catch (err) {
      override = { code: 421, message: `4.3.0 receiver onConnect() threw: ${(err as Error).message}` };
    }
    if (!override) return null;
    this.rejections.push({ stage: 'connect', remoteAddress: ctx.remoteAddress, ...override, at: ctx.now });
    return smtpError(override.code, override.message);
  }

  /** ms to wait before answering; 0 without a delay option (or when it throws). */
  delayOf(session: SMTPServerSession, stage: ReplyStage): number {
    try {
      const ms = this.hooks.delay?.(sessionContext(session, stage)) ?? 0;
      return Number.isFinite(ms) && ms > 0 ? ms : 0;
    } catch {
      return 0;
    }
  }

  onClose(session: SMTPServerSession): void {
    this.closed.add(session.id);
    try {
      this.hooks.onClose?.({
        sessionId: session.id,
        remoteAddress: plainAddress(session.remoteAddress),
        now: Date.now(),
      });
    } catch {
      /* a throwing close hook must not take the receiver down */
    }
  }

  /** Runs the reply callback; returns the error to answer with, or null to accept. */
  decide(ctx: ReplyContext): SMTPServerError | null {
    let override: ReplyOverride | null | undefined;
    try {
      override = this.reply?.(ctx);
    } catch (err) {
      override = { code: 451, message: `4.3.0 receiver reply() threw: ${(err as Error).message}` };
    }
    if (!override) return null;
    this.rejections.push({ stage: ctx.stage, remoteAddress: ctx.remoteAddress, ...override, at: ctx.now });
    return smtpError(override.code, override.message);
  }

  onMailFrom(address: SMTPServerAddress, session: SMTPServerSession): SMTPServerError | null {
    return this.decide({ ...sessionContext(session, 'mail'), mailFrom: address.address });
  }

  onRcptTo(address: SMTPServerAddress, session: SMTPServerSession): SMTPServerError | null {
    const ctx = sessionContext(session, 'rcpt');
    return this.decide({ ...ctx, rcptTo: [...ctx.rcptTo, address.address] });
  }

  onMessage(raw: Buffer, session: SMTPServerSession): SMTPServerError | null {
    const headers = parseHeaders(raw);
    const ctx = { ...sessionContext(session, 'data' as const), messageId: headers['message-id'] ?? '' };
    const err = this.decide(ctx);
    if (err) return err;
    if (this.closed.has(session.id)) return null;
    const { stage: _stage, now: _now, ...rest } = ctx;
    this.deliveries.push({ ...rest, headers, receivedAt: Date.now(), size: raw.length });
    this.events.emit('delivery');
    return null;
  }

  waitFor(count: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.deliveries.length < count) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(
            `receiver: expected ${count} deliveries within ${timeoutMs} ms, ` +
              `${this.deliveries.length} arrived (${this.rejections.length} replies overridden)`,
          ),
        );
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.events.off('delivery', check);
      };
      this.events.on('delivery', check);
      check();
    });
  }
}

function readStream(stream: SMTPServerDataStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

function assertLoopback(host: string): void {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) {
    throw new Error(`receiver: host must be an IPv4 loopback address (127.0.0.0/8), got ${host}`);
  }
}

/** Runs `fn` now, or after `ms` when ms > 0 (a pending answer does not keep the test process alive). */
function later(ms: number, fn: () => void): void {
  if (ms > 0) setTimeout(fn, ms).unref();
  else fn();
}

function createServer(state: ReceiverState): SMTPServer {
  return new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    hideSTARTTLS: true,
    hideENHANCEDSTATUSCODES: true,
    disableReverseLookup: true,
    logger: false,
    size: 100 * 1024 * 1024,
    banner: 'paceline test receiver',
    closeTimeout: 500,
    onConnect: (session, callback) => callback(state.onConnect(session)),
    onClose: (session) => state.onClose(session),
    onMailFrom: (address, session, callback) =>
      later(state.delayOf(session, 'mail'), () => callback(state.onMailFrom(address, session))),
    onRcptTo: (address, session, callback) =>
      later(state.delayOf(session, 'rcpt'), () => callback(state.onRcptTo(address, session))),
    onData: (stream, session, callback) => {
      readStream(stream).then(
        (raw) => later(state.delayOf(session, 'data'), () => callback(state.onMessage(raw, session))),
        (err: Error) => callback(smtpError(451, `4.3.0 receiver read error: ${err.message}`)),
      );
    },
  });
}

function listen(server: SMTPServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void =>
      reject(new Error(`receiver: cannot listen on ${host}:${port}: ${err.message}`));
    server.once('error', onError);
    const net = server.listen({ host, port }, () => {
      server.off('error', onError);
      const addr = net.address();
      if (addr === null || typeof addr === 'string') {
        reject(new Error(`receiver: unexpected listen address ${String(addr)}`));
        return;
      }
      resolve(addr.port);
    });
  });
}

/**
 * Starts an SMTP server on loopback that imitates a provider's MX: it accepts
 * everything unless `opts.onConnect` or `opts.reply` returns an override for a
 * connection or a stage, records every
 * accepted message in `deliveries` and every overridden reply in `rejections`.
 *
 * @param opts - listen address/port and the optional reply policy
 * @returns the running receiver; call `close()` in a teardown
 */
export async function startReceiver(opts: ReceiverOptions = {}): Promise<Receiver> {
  const host = opts.host ?? '127.0.0.1';
  assertLoopback(host);
  const state = new ReceiverState(opts.reply, { onConnect: opts.onConnect, onClose: opts.onClose, delay: opts.delay });
  const server = createServer(state);
  server.on('error', () => {
    /* per-connection errors (client resets) are not test failures */
  });
  const port = await listen(server, host, opts.port ?? 0);
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    deliveries: state.deliveries,
    rejections: state.rejections,
    waitFor: (count, timeoutMs) => state.waitFor(count, timeoutMs),
    close: () => (closing ??= new Promise<void>((resolve) => server.close(() => resolve()))),
  };
}
