import { createTransport } from 'nodemailer';

/** A message to submit to Haraka. */
export interface MailSpec {
  /** envelope sender and From header */
  from: string;
  /** envelope recipients and To header */
  to: string[];
  /** Message-ID header, e.g. '<m1@client.test>' */
  messageId: string;
  subject?: string;
  /** extra headers */
  headers?: Record<string, string>;
  /** text body; default names the Message-ID */
  body?: string;
  /** server address to connect to (IPv4 loopback only), default 127.0.0.1 */
  host?: string;
}

const CLIENT_NAME = 'client.test';
const TIMEOUT_MS = 15_000;

function assertLoopback(host: string): void {
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)) {
    throw new Error(`client: host must be an IPv4 loopback address (127.0.0.0/8), got ${host}`);
  }
}

function smtpOptions(host: string, port: number) {
  assertLoopback(host);
  return {
    host,
    port,
    secure: false,
    ignoreTLS: true,
    name: CLIENT_NAME,
    connectionTimeout: TIMEOUT_MS,
    greetingTimeout: TIMEOUT_MS,
    socketTimeout: TIMEOUT_MS,
  } as const;
}

function makeTransport(host: string, port: number) {
  return createTransport(smtpOptions(host, port));
}

function makePool(host: string, port: number, maxConnections: number) {
  return createTransport({ ...smtpOptions(host, port), pool: true, maxConnections, maxMessages: 100 });
}

type Sender = ReturnType<typeof makeTransport> | ReturnType<typeof makePool>;

/** Sends one message; rejects on any non-2xx reply, including a single refused recipient. */
async function sendOne(transport: Sender, port: number, msg: MailSpec): Promise<void> {
  const where = `${msg.host ?? '127.0.0.1'}:${port}`;
  let info: { accepted: unknown[]; rejected: unknown[]; response?: string };
  try {
    info = await transport.sendMail({
      envelope: { from: msg.from, to: msg.to },
      from: msg.from,
      to: msg.to,
      messageId: msg.messageId,
      subject: msg.subject ?? `test ${msg.messageId}`,
      headers: msg.headers ?? {},
      text: msg.body ?? `Test message ${msg.messageId}\n`,
    });
  } catch (err) {
    throw new Error(`sendMail ${msg.messageId} to ${where} failed: ${(err as Error).message}`);
  }
  if (info.rejected.length > 0) {
    throw new Error(
      `sendMail ${msg.messageId} to ${where}: recipients refused: ${info.rejected.map(String).join(', ')} (${info.response ?? ''})`,
    );
  }
}

/**
 * Submits one message to Haraka at 127.0.0.1:`port` over plain SMTP (EHLO client.test,
 * no TLS, no auth).
 *
 * @param port - Haraka's SMTP port
 * @param msg - envelope, Message-ID, optional subject/headers/body
 * @throws when the server answers any command (or any recipient) with a non-2xx reply
 */
export async function sendMail(port: number, msg: MailSpec): Promise<void> {
  const transport = makeTransport(msg.host ?? '127.0.0.1', port);
  try {
    await sendOne(transport, port, msg);
  } finally {
    transport.close();
  }
}

/**
 * Submits many messages with at most `concurrency` in flight, over pooled
 * connections (one pool per server address). Every message is tried; if any
 * failed, rejects afterwards with a summary of the failures.
 *
 * @param port - Haraka's SMTP port
 * @param msgs - the messages
 * @param concurrency - maximum messages (and connections) in flight, default 5
 */
export async function sendMany(port: number, msgs: MailSpec[], concurrency = 5): Promise<void> {
  const limit = Math.max(1, Math.floor(concurrency));
  const pools = new Map<string, ReturnType<typeof makePool>>();
  const poolFor = (host: string): ReturnType<typeof makePool> => {
    let pool = pools.get(host);
    if (!pool) pools.set(host, (pool = makePool(host, port, limit)));
    return pool;
  };
  const failures: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let msg = msgs[next++]; msg !== undefined; msg = msgs[next++]) {
      await sendOne(poolFor(msg.host ?? '127.0.0.1'), port, msg).catch((err: Error) => failures.push(err.message));
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, msgs.length) }, worker));
  } finally {
    for (const pool of pools.values()) pool.close();
  }
  if (failures.length > 0) {
    const shown = failures.slice(0, 5).join('\n  ');
    throw new Error(`sendMany: ${failures.length} of ${msgs.length} messages failed:\n  ${shown}`);
  }
}
