/**
 * Integer result codes shared by the Lua scripts and TypeScript. The script
 * loader injects this table into every script as the Lua table `CODE`, so the
 * numbers are written down exactly once, here.
 */

import type { WaitReason } from '../core/lane-state';

/** Reply codes of the acquire and claim scripts. */
export const CODE = Object.freeze({
  /** A slot was free now: the lease in the request was taken. */
  GRANTED: 1,
  /** Only the rate bound: the next rate slot (same day) was booked. */
  RESERVED: 2,
  WAIT_RATE: 3,
  WAIT_CONCURRENCY: 4,
  WAIT_DAILY: 5,
  WAIT_PAUSED: 6,
  WAIT_BLOCKED: 7,
} as const);

export type Code = (typeof CODE)[keyof typeof CODE];

const REASONS: ReadonlyMap<number, WaitReason> = new Map<number, WaitReason>([
  [CODE.WAIT_RATE, 'rate'],
  [CODE.WAIT_CONCURRENCY, 'concurrency'],
  [CODE.WAIT_DAILY, 'daily'],
  [CODE.WAIT_PAUSED, 'paused'],
  [CODE.WAIT_BLOCKED, 'blocked'],
]);

/** The wait reason a WAIT_* code stands for; undefined for GRANTED, RESERVED or an unknown code. */
export function waitReason(code: number): WaitReason | undefined {
  return REASONS.get(code);
}
