/**
 * Operator actions, the same from the command line (through the store, for
 * Redis) and over HTTP (inside the running Haraka): pause and resume a lane,
 * a provider or a source; lift a lane's suspension or block (and a
 * provider's incident); reset a lane's adaptation to its configured pace.
 * Names are checked against the config: a typo is an error listing the valid
 * names, never a control that matches nothing.
 */

import { describeTarget, type Control, type ControlTarget } from '../core/control';
import { formatDurationMs, parseDurationMs } from '../core/duration';
import { MX_PROVIDER_PREFIX } from '../core/providers';
import type { Config } from '../config/types';
import type { LaneRef, PacingStore } from '../store/types';
import { dayNumber, zoneOffsetMs } from '../core/day';
import type { Source } from '../config/types';
import type { ScheduleConfig } from '../config/warmup';
import { WarmupLimits } from '../engine/warmup-limits';

export const ACTIONS = [
  'pause',
  'resume',
  'lift',
  'reset',
  'warmup-reset',
  'warmup-move',
  'warmup-freeze',
  'warmup-thaw',
] as const;
export type ActionName = (typeof ACTIONS)[number];

/** One action as the CLI and the HTTP listener receive it. */
export interface ActionRequest {
  readonly action: ActionName;
  readonly source?: string;
  readonly provider?: string;
  /** pause: how long, e.g. `2h` (absent = until resumed). */
  readonly for?: string;
  readonly reason?: string;
  /** warmup-move: the schedule day to move to (1 = first day). */
  readonly day?: string;
  readonly who: string;
}

export interface ActionResult {
  /** The log line: who did what to which target, why. */
  readonly line: string;
  /** pause: the stored control; resume: the control it ended (null when none was in force). */
  readonly control?: Control | null;
  /** lift, reset: lanes with state that changed; warmup-*: lanes whose record was set. */
  readonly lanes?: number;
  /** warmup-*: the schedule day the lanes are on now. */
  readonly day?: number;
}

/** A request the operator must correct (bad name, missing target, bad duration); the message says how. */
export class ActionError extends Error {}

function checkSource(config: Config, source: string): void {
  if (!config.sources.has(source))
    throw new ActionError(`unknown source "${source}"; valid sources: ${[...config.sources.keys()].sort().join(', ')}`);
}

function checkProvider(config: Config, provider: string): void {
  if (
    config.providers.has(provider) ||
    (provider.startsWith(MX_PROVIDER_PREFIX) && provider.length > MX_PROVIDER_PREFIX.length)
  )
    return;
  const valid = [...config.providers.keys()].sort().join(', ');
  throw new ActionError(
    `unknown provider "${provider}"; valid providers: ${valid} (or ${MX_PROVIDER_PREFIX}<hosts> as paceline status shows it)`,
  );
}

/** The target of `--source` and/or `--provider` (both: one lane), every name checked. */
export function resolveTarget(config: Config, source: string | undefined, provider: string | undefined): ControlTarget {
  if (source !== undefined) checkSource(config, source);
  if (provider !== undefined) checkProvider(config, provider);
  if (source !== undefined && provider !== undefined) return { kind: 'lane', source, provider };
  if (provider !== undefined) return { kind: 'provider', provider };
  if (source !== undefined) return { kind: 'source', source };
  throw new ActionError('name a target: --provider P, --source S, or both for one lane');
}

/** The lanes a target covers: every configured source or provider with the named one. */
function lanesOf(config: Config, t: ControlTarget): LaneRef[] {
  if (t.kind === 'lane') return [{ source: t.source, provider: t.provider }];
  if (t.kind === 'provider') return [...config.sources.keys()].map((source) => ({ source, provider: t.provider }));
  return [...config.providers.keys()].map((provider) => ({ source: t.source, provider }));
}

function parseFor(text: string | undefined): number {
  if (text === undefined || text === '') return 0;
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < 1000)
    throw new ActionError(`bad duration "${text}": expected one like 90s, 15m, 2h or 3d`);
  return ms;
}

function why(req: ActionRequest): string {
  return req.reason ? `: ${req.reason}` : '';
}

/** Free text for one log line: control characters become spaces, at most 200 characters. */
function oneLine(text: string | undefined): string | undefined {
  return text === undefined
    ? undefined
    : text
        .replace(/[\u0000-\u001f\u007f]+/g, ' ')
        .trim()
        .slice(0, 200);
}

/** Runs one action on the store; the result's line is what to log. */
export async function runAction(config: Config, store: PacingStore, asked: ActionRequest): Promise<ActionResult> {
  const reason = oneLine(asked.reason);
  const req: ActionRequest = { ...asked, who: oneLine(asked.who) || 'unknown', ...(reason ? { reason } : {}) };
  const target = resolveTarget(config, req.source, req.provider);
  const what = describeTarget(target);
  switch (req.action) {
    case 'pause': {
      const forMs = parseFor(req.for);
      const { value } = await store.setControl({ target, forMs, reason: req.reason ?? '', who: req.who });
      const span =
        forMs > 0 ? `for ${formatDurationMs(forMs)} (until ${new Date(value.until).toISOString()})` : 'until resumed';
      return { line: `paceline control: ${req.who} paused ${what} ${span}${why(req)}`, control: value };
    }
    case 'resume': {
      const { value } = await store.clearControl(target);
      return {
        line: `paceline control: ${req.who} resumed ${what}${value ? '' : ' (it was not paused)'}${why(req)}`,
        control: value,
      };
    }
    case 'lift':
    case 'reset': {
      let lanes = 0;
      for (const lane of lanesOf(config, target)) if (await store.laneControl(lane, req.action)) lanes++;
      const incident =
        req.action === 'lift' && target.kind === 'provider' && (await store.liftProvider(target.provider));
      const done = req.action === 'lift' ? 'lifted suspensions and blocks of' : 'reset the pace of';
      const extra = incident ? ' and its provider-wide incident' : '';
      return {
        line: `paceline control: ${req.who} ${done} ${what} (${lanes} lane${lanes === 1 ? '' : 's'} with state)${extra}${why(req)}`,
        lanes,
      };
    }
    case 'warmup-reset':
    case 'warmup-move':
      return warmupAction(config, store, req);
    case 'warmup-freeze':
    case 'warmup-thaw':
      return freezeAction(config, store, req);
  }
}

/**
 * Puts a warming source's lanes (one provider, or every configured provider)
 * on a schedule day from today: `warmup-reset` day 1, `warmup-move` the day
 * asked for. The record is stored whatever was stored before; calendar
 * schedules count on from there.
 */
/** The warming source a warm-up action names, its schedule, and the lanes it covers. */
function warming(
  config: Config,
  req: ActionRequest,
): { source: Source; schedule: ScheduleConfig; providers: string[] } {
  if (req.source === undefined) throw new ActionError('warmup needs --source S (and optionally --provider P)');
  const source = config.sources.get(req.source);
  const schedule = source?.warmup ? config.schedules.get(source.warmup.schedule) : undefined;
  if (!source || !schedule) {
    const names = [...config.sources.values()]
      .filter((s) => s.warmup)
      .map((s) => s.name)
      .sort();
    throw new ActionError(
      `source "${req.source}" has no warm-up schedule; warming sources: ${names.join(', ') || '(none)'}`,
    );
  }
  return { source, schedule, providers: req.provider !== undefined ? [req.provider] : [...config.providers.keys()] };
}

/**
 * `warmup-freeze` keeps each lane on today's schedule day (brought up to date
 * first, as a decision would); `warmup-thaw` lets days count again from today.
 */
async function freezeAction(config: Config, store: PacingStore, req: ActionRequest): Promise<ActionResult> {
  const { source, schedule, providers } = warming(config, req);
  const limits = new WarmupLimits(store);
  let lanes = 0;
  for (const provider of providers) {
    const lane = { source: source.name, provider };
    const peek = await store.peek([lane], provider);
    await limits.view(config, source, provider, peek.now, peek.value.lanes[0]);
    const record = await store.warmRecord(lane);
    if (!record) continue;
    const { frozen: _, ...rest } = record;
    await store.putWarmRecord(lane, req.action === 'warmup-freeze' ? { ...rest, frozen: 1 } : rest);
    lanes++;
  }
  const which = req.provider !== undefined ? `provider ${req.provider}` : 'every provider';
  const done = req.action === 'warmup-freeze' ? 'froze' : 'thawed';
  return {
    line: `paceline control: ${req.who} ${done} the warm-up of source ${source.name} (${which}, ${schedule.name})${why(req)}`,
    lanes,
  };
}

async function warmupAction(config: Config, store: PacingStore, req: ActionRequest): Promise<ActionResult> {
  const { source, schedule, providers } = warming(config, req);
  const longest = Math.max(schedule.days.length, ...[...schedule.providers.values()].map((r) => r.length));
  const day = req.action === 'warmup-reset' ? 1 : Number(req.day);
  if (!Number.isSafeInteger(day) || day < 1 || day > longest + 1) {
    throw new ActionError(
      `bad day "${req.day ?? ''}": expected a day of schedule ${schedule.name} from 1 to ${longest}, or ${longest + 1} (past the ramp: warm)`,
    );
  }
  const now = (await store.controls()).now;
  const today = dayNumber(now, zoneOffsetMs(config.settings.timezone, now));
  for (const provider of providers)
    await store.putWarmRecord(
      { source: source.name, provider },
      { start: today - day + 1, step: day, evaluated: today, badDays: 0 },
    );
  const which = req.provider !== undefined ? `provider ${req.provider}` : 'every provider';
  const past = day > longest ? ' (past the ramp: warm)' : '';
  const line = `paceline control: ${req.who} moved the warm-up of source ${source.name} (${which}) to day ${day} of ${schedule.name}${past}${why(req)}`;
  return { line, lanes: providers.length, day };
}

/** Reads an action from a JSON body (HTTP); throws ActionError on a malformed one. */
export function actionFromJson(body: unknown, fallbackWho: string): ActionRequest {
  const o = body as Record<string, unknown> | null;
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new ActionError('the body must be a JSON object');
  const known = new Set(['action', 'source', 'provider', 'for', 'reason', 'who', 'day']);
  const unknown = Object.keys(o).filter((k) => !known.has(k));
  if (unknown.length > 0)
    throw new ActionError(
      `unknown field${unknown.length === 1 ? '' : 's'} ${unknown.join(', ')}; expected ${[...known].join(', ')}`,
    );
  if (!ACTIONS.includes(o.action as ActionName)) throw new ActionError(`"action" must be one of ${ACTIONS.join(', ')}`);
  for (const k of ['source', 'provider', 'for', 'reason', 'who', 'day']) {
    if (o[k] !== undefined && typeof o[k] !== 'string') throw new ActionError(`"${k}" must be a string`);
  }
  const str = (k: string) => (typeof o[k] === 'string' ? { [k]: o[k] as string } : {});
  return {
    action: o.action as ActionName,
    ...str('source'),
    ...str('provider'),
    ...str('for'),
    ...str('reason'),
    ...str('day'),
    who: (o.who as string | undefined) || fallbackWho,
  };
}
