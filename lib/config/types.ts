/** The typed, validated, frozen configuration every part of paceline reads. */

import type { ReactParams } from '../core/adapt';
import type { LaneLimits, LanePolicy } from '../core/lane-state';
import type { IncidentParams } from '../core/provider-state';
import type { ScheduleConfig } from './warmup';
import type { Rule } from '../core/classify';
import type { RedisSettings } from './redis-settings';
import type { ProviderMatcher } from '../core/providers';
import type { ControlSettings } from './control-settings';
import type { MetricsSettings } from './metrics-settings';

/** Limits as written in YAML, before parsing. */
export interface LimitsInput {
  readonly rate?: string;
  readonly concurrency?: number | 'unlimited';
  readonly per_day?: number | 'unlimited';
}

/** Limits after parsing: `null` means explicitly unlimited, absent means "inherit". */
export interface LimitsLayer {
  readonly rate?: LaneLimits['rate'] | null;
  readonly concurrency?: number | null;
  readonly perDay?: number | null;
}

/** One local address mail can leave from. */
export interface Source {
  readonly name: string;
  /** Local address to bind; absent for the implicit source (the system's default route). */
  readonly address?: string;
  readonly family?: 4 | 6;
  /** EHLO name; absent means Haraka's own (`me`). */
  readonly helo?: string;
  /** Per-provider overrides; key `*` applies to every provider. */
  readonly limits: ReadonlyMap<string, LimitsLayer>;
  /**
   * The limits of the pools this source belongs to (the config refuses a source
   * whose pools set different limits), folded in when the config is built: a
   * lane's limits depend on its source and provider only, never on the pool a
   * message came through.
   */
  readonly poolLimits: ReadonlyMap<string, LimitsLayer>;
  /** Warm-up: schedule name and, optionally, the day number it started. */
  readonly warmup?: { readonly schedule: string; readonly start?: number };
}

export interface Pool {
  readonly name: string;
  readonly sources: readonly string[];
  readonly limits: ReadonlyMap<string, LimitsLayer>;
  /** When no source of the pool can send now: `reroute` to the fallback, or `delay`. */
  readonly overflow: 'reroute' | 'delay';
  /** reroute: try this pool's sources next. */
  readonly overflowPool?: string;
  /** reroute: else hand the message to this relay (no bind, no pacing). */
  readonly overflowRelay?: { readonly host: string; readonly port: number };
}

export interface Provider {
  readonly name: string;
  readonly mx: readonly string[];
  readonly limits: LimitsLayer;
}

/** A static MX entry: where mail for a domain goes, bypassing DNS MX lookup. */
export interface StaticMx {
  /** Host name, used for provider matching (and resolved when `address` is absent). */
  readonly host: string;
  readonly address?: string;
  readonly port: number;
  readonly priority: number;
}

/** Pool names a pool header may name: `*` for any pool; empty for none. */
export type PoolList = '*' | readonly string[];

/** Settings from paceline.ini. */
export interface Settings {
  readonly enabled: boolean;
  /** The operator control listener ([control]). */
  readonly control: ControlSettings;
  /** The Prometheus endpoint ([metrics]). */
  readonly metrics: MetricsSettings;
  readonly store: 'memory' | 'redis';
  /** With store=redis: the [redis] section. */
  readonly redis?: RedisSettings;
  readonly defaultPool: string;
  /** Header naming the pool; removed before the message is queued. Empty disables. */
  readonly poolHeader: string;
  /**
   * Pools the header may name, by who sent the message: a client that
   * authenticated (SMTP AUTH), or one relaying without it (allowed by IP).
   * A header naming another pool is ignored (default pool, one warning).
   */
  readonly poolHeaderFrom: { readonly authenticated: PoolList; readonly unauthenticated: PoolList };
  /** Transaction note another plugin may set to choose the pool. */
  readonly poolNote: string;
  /** Longest time pacing may delay a message, from queue time, before it bounces. */
  readonly maxDelayMs: number;
  /** Longest a delivery holds its concurrency slot, renewals included. */
  readonly leaseMs: number;
  /** A lease expires this long after it was taken or last renewed (renewed every third of it). */
  readonly leaseTtlMs: number;
  /** This node's name in its lease ids; '' = derived from Haraka's `me` and install dir. */
  readonly node: string;
  readonly logDecisions: boolean;
  /** IANA time zone whose days count daily volumes and warm-up days. */
  readonly timezone: string;
  /** A source is marked down after this many attempts in a row that reached no MX host (bind or connect failed). */
  readonly sourceDownAfter: number;
  /** How long a source marked down is left out of its pools before it is tried again (ms). */
  readonly sourceDownMs: number;
  /** Upper bound on how long an MX answer is cached. */
  readonly dnsCacheMaxMs: number;
  /** How long a failed MX lookup is remembered. */
  readonly dnsNegativeMs: number;
  /** The memory store ([memory]): most idle lanes it keeps. */
  readonly memory: { readonly maxIdleLanes: number };
  /** Reactions to remote replies ([adapt]). */
  readonly adapt: {
    readonly enabled: boolean;
    readonly react: ReactParams;
    readonly policy: LanePolicy;
    readonly incident: IncidentParams;
  };
}

export interface Config {
  readonly settings: Settings;
  readonly sources: ReadonlyMap<string, Source>;
  readonly pools: ReadonlyMap<string, Pool>;
  readonly providers: ReadonlyMap<string, Provider>;
  readonly defaults: LimitsLayer;
  readonly staticMx: ReadonlyMap<string, readonly StaticMx[]>;
  readonly matcher: ProviderMatcher;
  readonly schedules: ReadonlyMap<string, ScheduleConfig>;
  /** Reply classification rules, local_rules first (paceline-replies.yaml). */
  readonly rules: readonly Rule[];
  /** Deprecated keys in use, one line each naming the new key (logged at load, printed by `paceline check`). */
  readonly warnings: readonly string[];
}

/** Name of the source and pool used when paceline.yaml lists none. */
export const IMPLICIT = 'default';

/** What [redis] on_store_error does while the shared store is away (lib/store/fallback.ts). */
export type OnStoreError = 'local' | 'delay' | 'allow';

/** Host and port of a Sentinel or a Cluster seed node. */
export interface RedisAddress {
  readonly host: string;
  readonly port: number;
}

/** Where Redis is and how to log in; exactly one of `url`, `sentinel`, `cluster`. */
export interface RedisConnectionSettings {
  /** One server: `redis://[user:password@]host:6379[/db]` or `rediss://...` (TLS); user and password %-encoded. */
  readonly url?: string;
  /** A Sentinel-managed master: its name and some of its sentinels. */
  readonly sentinel?: {
    readonly name: string;
    readonly sentinels: readonly RedisAddress[];
    readonly username?: string;
    readonly password?: string;
  };
  /** A Redis Cluster: some of its nodes (the rest are discovered). */
  readonly cluster?: readonly RedisAddress[];
  /** ACL user and password (override those in the URL). */
  readonly username?: string;
  readonly password?: string;
  /** Database number (standalone and Sentinel only; a Cluster has only 0). */
  readonly db?: number;
  /** TLS to Redis: true, or PEM files (CA to trust, client certificate and key) and the server name to check. */
  readonly tls?:
    | boolean
    | { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string; readonly servername?: string };
  /** Longest wait for one command's reply, ms; then the command fails. */
  readonly commandTimeoutMs: number;
  /** Longest wait for a connection, ms. */
  readonly connectTimeoutMs?: number;
}
