'use strict';
// Preloaded (node -r) into every Haraka process started by test/helpers/haraka.ts,
// cluster workers included: exit when the test process that started Haraka is gone
// (e.g. killed by a tap timeout, which skips its 'exit' handlers).
const parent = Number(process.env.PACELINE_TEST_PARENT_PID);
if (parent > 0) {
  setInterval(() => {
    try {
      process.kill(parent, 0);
    } catch {
      process.exit(70);
    }
  }, 1000).unref();
}
