/**
 * `paceline status [HARAKA_DIR] [--json]`: every lane with state, read from
 * the shared store (Redis) or, with the memory store, from the snapshot the
 * running Haraka writes every 10 s.
 */

import fs from 'node:fs';
import path from 'node:path';
import type { LaneState } from '../core/lane';
import { loadConfigFromDir } from '../config/load';
import type { Config } from '../config/types';
import { readSourceSnapshots, SNAPSHOT_FILE, warmRecords } from '../store/open';
import type { WarmRecord } from '../core/warmup';
import { sourceLines, statusRows, statusTable, type SourceRow } from '../engine/status-rows';
import { openRedisStore } from '../store/redis-client';
import type { LaneRef } from '../store/types';
import type { Output } from './check';
import { asControl, describeTarget, inForce, type Control } from '../core/control';

/** A control as `paceline status --json` shows it: times as ISO text, `until` null = until resumed. */
function controlRow(c: Control) {
  return { target: c.target, what: describeTarget(c.target), action: c.action, since: new Date(c.at).toISOString(), until: c.until ? new Date(c.until).toISOString() : null, who: c.who, reason: c.reason };
}

function controlLine(c: Control): string {
  const until = c.until ? `until ${new Date(c.until).toISOString()}` : 'until resumed';
  return `${c.action} ${describeTarget(c.target)} ${until}, by ${c.who} since ${new Date(c.at).toISOString()}${c.reason ? `: ${c.reason}` : ''}`;
}

export const STATUS_USAGE = 'usage: paceline status [HARAKA_DIR] [--json]';

type Lanes = { now: number; lanes: Array<{ lane: LaneRef; state: LaneState }>; warm: Map<string, WarmRecord>; controls: Control[]; from: string };

async function readLanes(config: Config, dir: string): Promise<Lanes> {
  const r = config.settings.redis;
  if (config.settings.store === 'redis' && r) {
    const store = await openRedisStore(r.connection, r.prefix);
    try {
      const { now, value } = await store.lanes();
      const controls = (await store.controls()).value;
      return { now, lanes: value, warm: await warmRecords(store, value.map((l) => l.lane)), controls, from: 'redis' };
    } finally {
      await store.close();
    }
  }
  const file = path.join(dir, SNAPSHOT_FILE);
  if (!fs.existsSync(file)) throw new Error(`no ${file}: is Haraka with paceline running in ${dir}? (the memory store writes it every 10 s)`);
  const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as { now: number; lanes: Lanes['lanes']; warm?: Array<[string, WarmRecord]>; controls?: unknown[] };
  const controls = (snap.controls ?? []).map(asControl).filter((c): c is Control => c !== undefined && inForce(c, Date.now()));
  return { now: snap.now, lanes: snap.lanes, warm: new Map(snap.warm ?? []), controls, from: `${file} (written ${Math.round((Date.now() - snap.now) / 1000)} s ago)` };
}

export async function statusCommand(args: readonly string[], io: Output): Promise<number> {
  const json = args.includes('--json');
  const rest = args.filter((a) => a !== '--json');
  if (rest.some((a) => a.startsWith('-')) || rest.length > 1) {
    io.err(STATUS_USAGE);
    return 2;
  }
  const dir = path.resolve(rest[0] ?? '.');
  try {
    const config = loadConfigFromDir(dir);
    const { now, lanes, warm, controls, from } = await readLanes(config, dir);
    const rows = statusRows(config, lanes, now, warm);
    const sources: SourceRow[] = readSourceSnapshots(dir, Date.now()).flatMap((snap) => snap.sources.map((s) => ({ ...s, pid: snap.pid })));
    if (json) io.out(JSON.stringify({ now, from, lanes: rows, sources, controls: controls.map(controlRow) }));
    else {
      io.out(`paceline status from ${from}: ${rows.length} lane${rows.length === 1 ? '' : 's'}`);
      for (const line of statusTable(rows)) io.out(line);
      for (const line of sourceLines(sources, Date.now())) io.out(line);
      io.out(controls.length === 0 ? 'no operator controls in force' : `operator controls in force: ${controls.length}`);
      for (const c of controls) io.out(`  ${controlLine(c)}`);
    }
    return 0;
  } catch (err) {
    io.err(`paceline status: ${(err as Error).message}`);
    return 1;
  }
}
