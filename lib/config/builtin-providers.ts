/**
 * Providers paceline knows out of the box, with their MX host suffixes and
 * conservative default limits for a warm IP. Operators add providers and
 * override any of these (suffixes or limits) in paceline.yaml `providers:`.
 *
 * Limits are starting points, not published quotas: providers publish few
 * numbers, and those are cited beside the value they shaped.
 */

import type { LimitsInput } from './types';

export interface BuiltinProvider {
  readonly mx: readonly string[];
  readonly limits: LimitsInput;
}

export const BUILTIN_PROVIDERS: Readonly<Record<string, BuiltinProvider>> = {
  // Exchange Online / EOP: every tenant's MX is <tenant>.mail.protection.outlook.com;
  // DANE-enabled tenants use <tenant>.<x>.mx.microsoft. Microsoft Learn, "Fix error
  // code 451 4.7.500-699 (ASxxx) in Exchange Online": new IPs are graylisted while
  // they build history, so keep the pace moderate.
  microsoft365: {
    mx: ['mail.protection.outlook.com', 'mx.microsoft'],
    limits: { rate: '300/min,burst=10', concurrency: 10 },
  },
  // Outlook.com / Hotmail / Live: *.olc.protection.outlook.com. Microsoft's Outlook.com
  // postmaster FAQ: "no more than 500 simultaneous connections"; RP-002/RP-003 are
  // per-connection and connection limits, so stay far below that.
  outlook: {
    mx: ['olc.protection.outlook.com'],
    limits: { rate: '300/min,burst=10', concurrency: 10 },
  },
  // Gmail and Workspace: Google, "Email sender guidelines" / "Gmail SMTP errors":
  // limits are per IP "based on the MX record domain"; 421 4.7.28 means slow down.
  google: {
    mx: ['google.com', 'googlemail.com', 'smtp.goog'],
    limits: { rate: '600/min,burst=20', concurrency: 20 },
  },
  // Yahoo / AOL share *.yahoodns.net MX (Yahoo Sender Hub, SMTP error codes). Yahoo
  // closes connections silently at its per-connection limit: keep concurrency low.
  yahoo: {
    mx: ['yahoodns.net'],
    limits: { rate: '300/min,burst=10', concurrency: 10 },
  },
  // Apple iCloud Mail: mx01.mail.icloud.com etc. (Apple, "Postmaster information for iCloud Mail").
  apple: {
    mx: ['mail.icloud.com', 'icloud.com', 'apple.com', 'me.com'],
    limits: { rate: '120/min,burst=5', concurrency: 5 },
  },
  // Comcast: "25 simultaneous connections per sending IP" (Comcast postmaster,
  // error codes RL0000xx = rate limited). MX: mx1.comcast.net ...
  comcast: {
    mx: ['comcast.net'],
    limits: { rate: '120/min,burst=5', concurrency: 10 },
  },
  // GMX and web.de (1&1 Mail & Media): mx00.gmx.net, mx-ha03.web.de.
  gmx: {
    mx: ['gmx.net', 'web.de'],
    limits: { rate: '120/min,burst=5', concurrency: 5 },
  },
  // Orange France: smtp-in.orange.fr, which is notoriously strict on volume per IP.
  orange: {
    mx: ['orange.fr'],
    limits: { rate: '60/min,burst=3', concurrency: 3 },
  },
};
