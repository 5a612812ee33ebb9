/**
 * What `paceline status` shows per provider: whether the provider holds its
 * lanes back (a provider-wide incident, lib/core/provider-state.ts, or an
 * operator's pause), how many of its lanes are in each state, and its
 * throttle replies per 100 attempts (its lanes' outcome counters summed).
 * Pure: lane rows, provider states, controls and a clock in; rows out.
 */

import { formatDurationMs } from '../core/duration';
import type { Control } from '../core/control';
import type { IncidentParams, ProviderState } from '../core/provider-state';
import type { WaitingLane } from '../core/waiting';
import { controlRow, pauseCell, pauseOf, type ControlRow } from './status-controls';
import type { OutcomeCounts } from './status-counts';
import type { StatusRow } from './status-rows';
import { STATE_KINDS, type StateKind } from './status-state';
import { alignTable } from './status-table';

/** A provider's attempts over one period, its lanes summed. */
export interface ProviderCounts {
  attempts: number;
  delivered: number;
  throttles: number;
  /** throttles × 100 ÷ attempts, one decimal; null without attempts. */
  throttlesPer100: number | null;
}

/** A provider-wide incident: every lane of the provider paused, then probed one message at a time. */
export interface IncidentRow {
  /** When it was declared (ISO); null when the store kept no time. */
  since: string | null;
  /** End of the pause (ISO); after it the provider is probed until a delivery succeeds. */
  until: string | null;
  /** The pause is over and one message goes at a time until a delivery ends it. */
  probing: boolean;
  /** While probing: when the next probe may leave (ISO). */
  nextProbeAt: string | null;
  /** The sources whose throttle replies made it an incident. */
  sources: string[];
  /** Why, in words: `throttle replies on 2 sources within 5m (s2, s3)`. */
  reason: string;
}

export interface ProviderRow {
  provider: string;
  /** paused: an operator's pause; incident: paused after throttles on most of its sources; probing: the incident's probes; else ok. */
  state: 'paused' | 'incident' | 'probing' | 'ok';
  /** The same in words, for the table. */
  stateText: string;
  incident: IncidentRow | null;
  /** The operator's pause of the whole provider, or null. */
  pause: ControlRow | null;
  /** Its lanes with state, and how many of them are in each kind (their most severe one). */
  lanes: number;
  lanesByKind: Record<StateKind, number>;
  today: ProviderCounts;
  lastHour: ProviderCounts;
  /** Messages waiting for the provider (on its lanes or with no slot booked), summed over the processes. */
  waiting: number;
}

const iso = (ms: number): string | null => (ms > 0 ? new Date(ms).toISOString() : null);

function sum(counts: readonly OutcomeCounts[]): ProviderCounts {
  const attempts = counts.reduce((n, c) => n + c.attempts, 0);
  const throttles = counts.reduce((n, c) => n + c.throttles, 0);
  return {
    attempts,
    delivered: counts.reduce((n, c) => n + c.delivered, 0),
    throttles,
    throttlesPer100: attempts > 0 ? Math.round((throttles * 1000) / attempts) / 10 : null,
  };
}

/** The incident of a provider state at `now`, or null when it lets its lanes decide. */
export function incidentOf(p: ProviderState | undefined, now: number, params: IncidentParams): IncidentRow | null {
  if (!p || (p.pauseUntil <= now && p.probing !== 1)) return null;
  const sources = Object.keys(p.throttled).sort();
  const within = formatDurationMs(params.windowMs);
  return {
    since: iso(p.declaredAt),
    until: iso(p.pauseUntil),
    probing: p.pauseUntil <= now,
    nextProbeAt: p.pauseUntil <= now ? new Date(Math.max(p.probeAt, now)).toISOString() : null,
    sources,
    reason: `throttle replies on ${sources.length} source${sources.length === 1 ? '' : 's'} within ${within}${sources.length > 0 ? ` (${sources.join(', ')})` : ''}`,
  };
}

function stateOf(pause: ControlRow | null, incident: IncidentRow | null): Pick<ProviderRow, 'state' | 'stateText'> {
  const parts: string[] = [];
  if (pause) parts.push(pauseCell(pause));
  if (incident && !incident.probing)
    parts.push(`incident since ${incident.since ?? '?'} until ${incident.until}: ${incident.reason}`);
  if (incident?.probing)
    parts.push(`probing one message at a time after an incident (${incident.reason}), next ${incident.nextProbeAt}`);
  const state = pause ? 'paused' : incident ? (incident.probing ? 'probing' : 'incident') : 'ok';
  return { state, stateText: parts.join('; ') || 'ok' };
}

/** The providers to show: those of the lanes, those with an operator pause and those with an incident. */
export function providerNames(
  rows: readonly StatusRow[],
  states: ReadonlyMap<string, ProviderState>,
  controls: readonly Control[],
): string[] {
  const names = new Set(rows.map((r) => r.provider));
  for (const c of controls) if (c.target.kind === 'provider') names.add(c.target.provider);
  for (const [name, p] of states) if (p.pauseUntil > 0 || p.probing === 1) names.add(name);
  return [...names].sort();
}

/** One row per provider of `names`, from its lanes' rows (already filtered by source, if at all). */
export function providerRows(
  names: readonly string[],
  rows: readonly StatusRow[],
  states: ReadonlyMap<string, ProviderState>,
  controls: readonly Control[],
  waiting: readonly WaitingLane[],
  now: number,
  params: IncidentParams,
): ProviderRow[] {
  return names.map((provider) => {
    const lanes = rows.filter((r) => r.provider === provider);
    const found = pauseOf(controls, 'provider', provider, now);
    const pause = found ? controlRow(found) : null;
    const incident = incidentOf(states.get(provider), now, params);
    const lanesByKind = Object.fromEntries(STATE_KINDS.map((k) => [k, 0])) as Record<StateKind, number>;
    for (const r of lanes) lanesByKind[r.detail.kind] += 1;
    return {
      provider,
      ...stateOf(pause, incident),
      incident,
      pause,
      lanes: lanes.length,
      lanesByKind,
      today: sum(lanes.map((r) => r.today)),
      lastHour: sum(lanes.map((r) => r.lastHour)),
      waiting: waiting.filter((w) => w.provider === provider).reduce((n, w) => n + w.count, 0),
    };
  });
}

/** The kinds `--state` matches on a provider: `paused` while paused or in an incident, and its lanes' kinds. */
export function providerKinds(row: ProviderRow): StateKind[] {
  const kinds = STATE_KINDS.filter((k) => row.lanesByKind[k] > 0);
  return row.state === 'paused' || row.state === 'incident'
    ? ['paused', ...kinds.filter((k) => k !== 'paused')]
    : kinds;
}

/** The provider rows as an aligned table. */
export function providerTable(rows: readonly ProviderRow[]): string[] {
  if (rows.length === 0) return [];
  const lanesCell = (r: ProviderRow) =>
    STATE_KINDS.filter((k) => r.lanesByKind[k] > 0)
      .map((k) => `${r.lanesByKind[k]} ${k}`)
      .join(', ') || '0';
  const per100 = (c: ProviderCounts) => (c.throttlesPer100 === null ? '-' : String(c.throttlesPer100));
  return alignTable(
    ['provider', 'lanes', 'thr/100 today', 'thr/100 h', 'waiting', 'state'],
    rows.map((r) => [r.provider, lanesCell(r), per100(r.today), per100(r.lastHour), String(r.waiting), r.stateText]),
  );
}
