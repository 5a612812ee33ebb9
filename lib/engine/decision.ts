/**
 * What the engine decides, as data: the message it is asked about, what it
 * remembers about it between hooks (Ticket), and the Decision with its
 * reason. No logic: lib/engine/engine.ts decides.
 */

import type { LaneLimits, WaitReason } from '../core/lane-state';
import type { Source } from '../config/types';
import type { LaneRef } from '../store/types';
import type { MxHost } from './mx';
import type { LaneTurn } from './turns';

/** What the engine remembers about one message between hooks. */
export interface Ticket {
  /** A booked future rate slot: come back at `at` and send from `lane.source`. */
  reservation?: { lane: LaneRef; at: number; slot: number; epoch: number };
  /** The delivery in flight. */
  lease?: { lane: LaneRef; limits: LaneLimits; id: string; startedAt: number };
  /** Set when this message is a provider's incident probe. */
  probe?: boolean;
  /** Its turn for a concurrency slot on a full lane (lib/core/turn.ts). */
  turn?: LaneTurn;
}

export interface Message {
  readonly id: string;
  readonly domain: string;
  /** Epoch ms the message was queued (Haraka's todo.queue_time). */
  readonly queueTime: number;
  /** Pool asked for by note or header; undefined = default pool. */
  readonly pool?: string;
}

/**
 * Why a decision was taken, as one word from a fixed list (metrics label it;
 * `why` is the sentence for logs): how a message was sent, or what delayed it.
 */
export type DecisionReason =
  | 'free_slot'
  | 'reserved_slot'
  | 'overflow'
  | 'relay'
  | WaitReason
  | 'active_hours'
  | 'provider_incident'
  | 'provider_probe'
  | 'operator_pause'
  | 'max_delay'
  | 'disabled'
  | 'mx_lookup'
  | 'ip_family';

/** Every DecisionReason once (a Record, so the compiler checks the list is complete). */
const REASONS: Readonly<Record<DecisionReason, true>> = {
  free_slot: true,
  reserved_slot: true,
  overflow: true,
  relay: true,
  rate: true,
  concurrency: true,
  daily: true,
  paused: true,
  blocked: true,
  store: true,
  active_hours: true,
  provider_incident: true,
  provider_probe: true,
  operator_pause: true,
  max_delay: true,
  disabled: true,
  mx_lookup: true,
  ip_family: true,
};

/** Every DecisionReason, for tests and docs. */
export const DECISION_REASONS = Object.keys(REASONS) as readonly DecisionReason[];

interface Why {
  readonly why: string;
  readonly reason: DecisionReason;
}

export type Decision =
  | ({
      readonly action: 'send';
      readonly source: Source;
      readonly provider: string;
      readonly hosts: readonly MxHost[];
      readonly relay?: boolean;
    } & Why)
  | ({ readonly action: 'delay'; readonly seconds: number; readonly provider: string } & Why)
  | ({ readonly action: 'hold'; readonly ms: number; readonly provider: string } & Why)
  | ({ readonly action: 'expire'; readonly provider: string } & Why)
  | ({ readonly action: 'pass' } & Why)
  | ({ readonly action: 'unroutable'; readonly provider: string } & Why);
