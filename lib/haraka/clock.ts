/**
 * The plugin's clock: the system clock, or, for rehearsals and tests, the
 * system clock shifted by the number of milliseconds written in the file
 * named by PACELINE_CLOCK_FILE (re-read at most every 100 ms). Shifting it
 * lets a test play a warm-up's next day without waiting for it; Haraka's own
 * timers stay on real time (SIGHUP fires them early). A read that is not a
 * number (a file caught while being rewritten reads empty) keeps the last
 * shift: falling back to the real time for a moment would move a lane to
 * another day and back, and start that day's count again.
 */

import fs from 'node:fs';

export function pluginClock(env: NodeJS.ProcessEnv = process.env): () => number {
  const file = env.PACELINE_CLOCK_FILE;
  if (!file) return Date.now;
  let offset = 0;
  let checked = -Infinity;
  return () => {
    const now = Date.now();
    if (now - checked >= 100) {
      checked = now;
      try {
        const text = fs.readFileSync(file, 'utf8').trim();
        const n = Number(text);
        if (text !== '' && Number.isFinite(n)) offset = n;
      } catch {
        // no file (yet, or being replaced): keep the last shift
      }
    }
    return now + offset;
  };
}
