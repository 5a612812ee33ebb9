/**
 * The memory store's state on disk, so that a restart keeps suspensions,
 * blocks, pauses, day counts and warm-up records. One Haraka process keeps one
 * store and writes one file: `<haraka dir>/paceline-state.json`, written
 * whole to a temp file, fsynced and renamed over the old one (a crash leaves
 * the old file or the new one, never half of one), every `everyMs` when the
 * state changed, and synchronously by `flush` at shutdown. A file that cannot
 * be read back is set aside (renamed `.bad-<time>`) with a warning, never fatal.
 */

import fs from 'node:fs';
import path from 'node:path';
import { decodeState, encodeState } from './memory-codec';
import type { MemoryStore } from './memory';

/** Name of the state file in the Haraka directory. */
export const STATE_FILE = 'paceline-state.json';

/** Default interval between writes of a changed state (ms). */
export const WRITE_EVERY_MS = 2_000;

export interface StateLog {
  (level: 'warn' | 'notice' | 'info', text: string): void;
}

/** The moment a file was set aside, usable in a file name. */
function stamp(now: number): string {
  return new Date(now).toISOString().replace(/[:.]/g, '-');
}

/**
 * Loads the state file into the store. No file: an empty store. A file that is
 * not JSON, not ours, of another version or malformed: renamed aside, a
 * warning, an empty store. Returns the lanes restored.
 */
export function restoreState(store: MemoryStore, file: string, log: StateLog, now = Date.now()): number {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') log('info', `paceline: no state file ${file}; the memory store starts empty`);
    else log('warn', `paceline: cannot read the state file ${file} (${(err as Error).message}); starting empty`);
    return 0;
  }
  try {
    const { snapshot, savedAt, pid } = decodeState(text);
    store.restore(snapshot);
    const age = Math.round((now - savedAt) / 1000);
    const { lanes, warm, providers } = snapshot;
    const counts = `${lanes.length} lanes, ${warm.length} warm-up records, ${providers.length} providers`;
    log(
      'notice',
      `paceline: memory store restored from ${file} (written ${age}s ago by pid ${pid}): ${counts}; ` +
        'leases are not restored',
    );
    return snapshot.lanes.length;
  } catch (err) {
    const aside = `${file}.bad-${stamp(now)}`;
    let where = `set aside as ${aside}`;
    try {
      fs.renameSync(file, aside);
    } catch (renameErr) {
      where = `could not be set aside (${(renameErr as Error).message}) and will be overwritten`;
    }
    const why = (err as Error).message;
    log('warn', `paceline: state file ${file} is unusable: ${why}; ${where}; the memory store starts empty`);
    return 0;
  }
}

/** Writes `text` to `file` atomically: temp file, fsync, rename, fsync of the directory. */
function writeAtomicSync(file: string, text: string, tmp: string): void {
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  syncDir(path.dirname(file));
}

function syncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // some filesystems refuse fsync on a directory; the rename is done either way
  }
}

async function writeTemp(tmp: string, text: string): Promise<void> {
  const handle = await fs.promises.open(tmp, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface Persister {
  /** Writes now, synchronously, if anything changed (for shutdown); later writes stop. */
  flush(): void;
  /** Stops the periodic writes. */
  stop(): void;
}

/**
 * Writes the store to `file` every `everyMs` while it changes. A slow write
 * (a very large store) spaces the next one ten times its duration apart, so
 * persisting never takes more than about a tenth of the process's time.
 * A failed write is logged (at most once a minute) and retried.
 */
export function startPersisting(store: MemoryStore, file: string, log: StateLog, everyMs = WRITE_EVERY_MS): Persister {
  let saved = -1;
  let writing = false;
  let closed = false;
  let nextAt = 0;
  let lastError = 0;
  const failed = (err: unknown) => {
    if (Date.now() - lastError < 60_000) return;
    lastError = Date.now();
    log('warn', `paceline: could not write the state file ${file}: ${(err as Error).message}; retrying`);
  };
  const tick = async () => {
    if (writing || closed || store.changes === saved || Date.now() < nextAt) return;
    writing = true;
    const started = Date.now();
    const changes = store.changes;
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      await writeTemp(tmp, encodeState(store.snapshot(), started, process.pid));
      if (closed) return void (await fs.promises.rm(tmp, { force: true }));
      // renamed in the same tick as the check: an asynchronous rename could land after a flush
      // (SIGTERM) and put this older state over the flushed one (a restart then forgot the last
      // changes, e.g. a warming lane's last day count)
      fs.renameSync(tmp, file);
      syncDir(path.dirname(file));
      saved = changes;
    } catch (err) {
      failed(err);
    } finally {
      writing = false;
      nextAt = Date.now() + 10 * (Date.now() - started);
    }
  };
  const timer = setInterval(() => void tick(), everyMs);
  timer.unref();
  return {
    flush() {
      if (closed) return;
      closed = true;
      clearInterval(timer);
      if (store.changes === saved) return;
      try {
        const text = encodeState(store.snapshot(), Date.now(), process.pid);
        writeAtomicSync(file, text, `${file}.${process.pid}.final.tmp`);
        saved = store.changes;
      } catch (err) {
        lastError = 0;
        failed(err);
      }
    },
    stop() {
      closed = true;
      clearInterval(timer);
    },
  };
}
