/**
 * The plugin's clock: the system clock, or, for rehearsals and tests, the
 * system clock shifted by the number of milliseconds written in the file
 * named by PACELINE_CLOCK_FILE (re-read at most every 100 ms). Shifting it
 * lets a test play a warm-up's next day without waiting for it; Haraka's own
 * timers stay on real time (SIGHUP fires them early).
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
        const n = Number(fs.readFileSync(file, 'utf8').trim());
        offset = Number.isFinite(n) ? n : 0;
      } catch {
        offset = 0;
      }
    }
    return now + offset;
  };
}
