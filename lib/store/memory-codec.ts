/**
 * The memory store's state file format: a snapshot as compact JSON, and the
 * strict check that reads one back. Pure (no I/O). Leases are left out on
 * purpose: the deliveries they belong to died with the process that wrote the file.
 *
 * Version 1: `{format, version, savedAt, pid, laneFields, lanes, providers, warm, starts, hits}`;
 * a lane is `[source, provider, touched, dayOffsetMs | null, ...values in laneFields order]`.
 */

import { emptyLane, type LaneState } from '../core/lane-state';
import type { ProviderState } from '../core/provider-state';
import type { WarmRecord } from '../core/warmup';
import type { MemoryLane, MemorySnapshot } from './memory';

export const STATE_FORMAT = 'paceline-memory-state';
export const STATE_VERSION = 1;

/** The lane fields a file carries, in order (every field of LaneState but the leases). */
export const LANE_FIELDS: readonly string[] = Object.keys(emptyLane()).filter((k) => k !== 'leases');

/**
 * Lane fields renamed since version 1 was first written (issue 10: one meaning
 * per word), old name → new name: a file that uses the old names reads the same.
 */
export const RENAMED_LANE_FIELDS: Readonly<Record<string, string>> = {
  holdUntil: 'sameEventUntil',
  probeAt: 'trialAt',
};

const EMPTY = emptyLane() as unknown as Record<string, unknown>;

/** A state file that cannot be used: says why, in words an operator can act on. */
export class StateFileError extends Error {}

/** The file's JSON text for a snapshot taken at `savedAt` (epoch ms). */
export function encodeState(snapshot: MemorySnapshot, savedAt: number, pid: number): string {
  const lanes = snapshot.lanes.map((e) => {
    const s = e.state as unknown as Record<string, unknown>;
    return [e.lane.source, e.lane.provider, e.touched, e.dayOffsetMs ?? null, ...LANE_FIELDS.map((f) => s[f])];
  });
  const providers = snapshot.providers.map(([name, p]) => [
    name,
    p.throttled,
    p.pauseUntil,
    p.probing,
    p.probeAt,
    p.declaredAt,
  ]);
  const warm = snapshot.warm.map(([key, w]) => [key, w.start, w.step, w.evaluated, w.badDays]);
  const { starts, hits } = snapshot;
  const head = { format: STATE_FORMAT, version: STATE_VERSION, savedAt, pid, laneFields: LANE_FIELDS };
  const body = { ...head, lanes, providers, warm, starts, hits };
  return JSON.stringify(body);
}

function fail(what: string): never {
  throw new StateFileError(what);
}

function num(v: unknown, where: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  fail(`${where}: expected a finite number, got ${JSON.stringify(v)}`);
}

function str(v: unknown, where: string): string {
  if (typeof v === 'string' && v !== '') return v;
  fail(`${where}: expected a non-empty string, got ${JSON.stringify(v)}`);
}

function list(v: unknown, where: string, length?: number): unknown[] {
  if (!Array.isArray(v)) fail(`${where}: expected a list`);
  if (length !== undefined && v.length !== length) fail(`${where}: expected ${length} entries, got ${v.length}`);
  return v;
}

function decodeLane(row: unknown, where: string): MemoryLane {
  const r = list(row, where, 4 + LANE_FIELDS.length);
  const source = str(r[0], `${where} source`);
  if (source.includes('|')) fail(`${where} source: "${source}" contains "|"`);
  const state: Record<string, unknown> = { leases: [] };
  LANE_FIELDS.forEach((f, i) => {
    const v = r[4 + i];
    if (typeof EMPTY[f] !== 'string') state[f] = num(v, `${where} ${f}`);
    else state[f] = typeof v === 'string' ? v : fail(`${where} ${f}: expected a string`);
  });
  const lane = { source, provider: str(r[1], `${where} provider`) };
  const offset = r[3] === null ? undefined : num(r[3], `${where} dayOffsetMs`);
  const touched = num(r[2], `${where} touched`);
  const entry = { lane, state: state as unknown as LaneState, touched };
  return offset === undefined ? entry : { ...entry, dayOffsetMs: offset };
}

function decodeProvider(row: unknown, where: string): [string, ProviderState] {
  const r = list(row, where, 6);
  const t = r[1];
  if (typeof t !== 'object' || t === null || Array.isArray(t)) fail(`${where} throttled: expected a mapping`);
  const throttled: Record<string, number> = {};
  for (const [k, v] of Object.entries(t)) throttled[k] = num(v, `${where} throttled.${k}`);
  const nums = [2, 3, 4, 5].map((i) => num(r[i], `${where}[${i}]`));
  const [pauseUntil, probing, probeAt, declaredAt] = nums as [number, number, number, number];
  return [str(r[0], `${where} name`), { throttled, pauseUntil, probing, probeAt, declaredAt }];
}

function decodeWarm(row: unknown, where: string): [string, WarmRecord] {
  const r = list(row, where, 5);
  const nums = [1, 2, 3, 4].map((i) => num(r[i], `${where}[${i}]`));
  const [start, step, evaluated, badDays] = nums as [number, number, number, number];
  return [str(r[0], `${where} lane`), { start, step, evaluated, badDays }];
}

/**
 * Reads a state file's text back into a snapshot; throws StateFileError when
 * it is not JSON, not a paceline state file, another version, or any entry is malformed.
 */
export function decodeState(text: string): { snapshot: MemorySnapshot; savedAt: number; pid: number } {
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    fail(`not JSON (${(err as Error).message}; ${text.length} bytes): truncated or damaged`);
  }
  if (typeof body !== 'object' || body === null || body.format !== STATE_FORMAT) {
    fail(`not a paceline memory state file (format ${JSON.stringify((body as { format?: unknown } | null)?.format)})`);
  }
  if (body.version !== STATE_VERSION) {
    fail(`state file version ${JSON.stringify(body.version)}, this paceline reads version ${STATE_VERSION}`);
  }
  const named = Array.isArray(body.laneFields) ? body.laneFields : [];
  const fields = JSON.stringify(named.map((f: unknown) => RENAMED_LANE_FIELDS[String(f)] ?? f));
  if (fields !== JSON.stringify(LANE_FIELDS)) fail('written by a paceline whose lanes have other fields');
  const lanes = list(body.lanes, 'lanes').map((row, i) => decodeLane(row, `lanes[${i}]`));
  const providers = list(body.providers, 'providers').map((r, i) => decodeProvider(r, `providers[${i}]`));
  const warm = list(body.warm, 'warm').map((row, i) => decodeWarm(row, `warm[${i}]`));
  const starts = list(body.starts, 'starts').map((row, i) => {
    const r = list(row, `starts[${i}]`, 2);
    return [str(r[0], `starts[${i}] source`), num(r[1], `starts[${i}] day`)] as const;
  });
  const hits = list(body.hits, 'hits').map((row, i) => {
    const r = list(row, `hits[${i}]`, 2);
    const times = list(r[1], `hits[${i}] times`).map((t, j) => num(t, `hits[${i}] times[${j}]`));
    return [str(r[0], `hits[${i}] key`), times] as const;
  });
  const snapshot = { lanes, providers, warm, starts, hits };
  return { snapshot, savedAt: num(body.savedAt, 'savedAt'), pid: num(body.pid, 'pid') };
}
