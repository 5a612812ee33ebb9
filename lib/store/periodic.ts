/**
 * The status writers' one timer shape: write now, then every `everyMs`
 * without keeping the process alive; `stop()` ends the timer, then runs
 * `last` (remove or withdraw what was written).
 */

/** A writer that runs now and every interval until stopped. */
export interface Periodic {
  /** Writes at once (outside the interval). */
  write(): void;
  /** Ends the timer, then runs the writer's last step. */
  stop(): void;
}

/** Starts `write` now and every `everyMs` ms (an unref'd timer); `last` runs once on stop(). */
export function periodic(write: () => void, everyMs: number, last: () => void = () => undefined): Periodic {
  const timer = setInterval(write, everyMs);
  timer.unref();
  write();
  return {
    write,
    stop: () => {
      clearInterval(timer);
      last();
    },
  };
}
