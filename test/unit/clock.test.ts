/**
 * The plugin's clock (lib/haraka/clock.ts): shifted by PACELINE_CLOCK_FILE,
 * and a file read while it is rewritten (empty) or gone keeps the last shift
 * instead of falling back to the real time. It re-reads the file at most
 * every 100 ms, so the test waits that long between changes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { pluginClock } from '../../lib/haraka/clock';

const HOUR = 3_600_000;
const reread = () => new Promise((r) => setTimeout(r, 150));

t.test('the shift holds through an empty or missing file; a new number moves it', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-clock-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'offset');
  fs.writeFileSync(file, String(24 * HOUR));
  const clock = pluginClock({ PACELINE_CLOCK_FILE: file });
  const shift = () => Math.round((clock() - Date.now()) / HOUR);
  t.equal(shift(), 24, 'shifted by the file');
  fs.writeFileSync(file, '');
  await reread();
  t.equal(shift(), 24, 'an empty read (a file being rewritten) keeps the shift');
  fs.writeFileSync(file, 'soon');
  await reread();
  t.equal(shift(), 24, 'so does text that is not a number');
  fs.rmSync(file);
  await reread();
  t.equal(shift(), 24, 'and a file that is gone for a moment');
  fs.writeFileSync(file, String(48 * HOUR));
  await reread();
  t.equal(shift(), 48, 'a new number moves it');
  t.equal(pluginClock({}), Date.now, 'without the variable it is the system clock');
});
