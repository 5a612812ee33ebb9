/** The small part of Haraka's objects paceline touches (Haraka ships no types). */

export type Next = (code?: number, msg?: unknown) => void;

export interface RcptTo {
  original?: string;
  dsn_code?: number;
  dsn_msg?: string;
  dsn_status?: string;
  dsn_action?: string;
}

export interface Todo {
  uuid: string;
  domain: string;
  queue_time: number;
  notes: Record<string, unknown>;
  rcpt_to: RcptTo[];
}

export interface HMail {
  todo: Todo;
  /** In-memory notes, shared with the messages Haraka splits off this one. */
  notes?: Record<string, unknown>;
  /** Haraka's per-message log prefix uses this. */
  uuid?: string;
}

export interface Transaction {
  notes: Record<string, unknown>;
  header: { get(name: string): string; get_all(name: string): string[] };
  remove_header(name: string): void;
}

export interface Connection {
  transaction?: Transaction;
  /** auth_user: set by Haraka's auth plugins once the client authenticated (SMTP AUTH). */
  notes?: Record<string, unknown>;
}

export interface HarakaMxEntry {
  exchange: string;
  /** The MX host name DNS gave: Haraka skips such an entry whose exchange is local unless outbound.ini local_mx_ok=true. */
  from_dns?: string;
  priority: number;
  port: number;
  bind?: string;
  bind_helo?: string;
}
