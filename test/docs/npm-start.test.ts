/**
 * `npm start` from the README: Haraka with paceline on the embedded store,
 * relaying for loopback clients. Run in a scratch directory (PACELINE_DIR) on a
 * free port (PACELINE_LISTEN) so that a developer's own .run/haraka is untouched.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { freePort } from '../helpers/ports';

const ROOT = path.resolve(__dirname, '..', '..');

/** Speaks SMTP line by line: sends each command after the previous reply, returns every reply. */
function smtpDialogue(port: number, commands: readonly string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const replies: string[] = [];
    let buf = '';
    let next = 0;
    socket.setTimeout(15_000, () => socket.destroy(new Error(`SMTP timeout after ${replies.join(' | ')}`)));
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      buf += d.toString();
      // a reply is complete at a line "NNN text" (not "NNN-text")
      while (/^\d{3} .*\r?\n/m.test(buf)) {
        const end = buf.search(/^\d{3} .*\r?\n/m);
        const line = /^\d{3} .*\r?\n/m.exec(buf.slice(end)) as RegExpExecArray;
        replies.push(buf.slice(0, end + line[0].length).trim());
        buf = buf.slice(end + line[0].length);
        if (next < commands.length) socket.write(`${commands[next++]}\r\n`);
        else {
          socket.end();
          resolve(replies);
        }
      }
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether any process of the detached group `pid` is left. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * SIGTERMs the detached group `pid` (npm, paceline-start and Haraka) and
 * waits until none of it is left, SIGKILL after 5 s; gives up waiting after
 * 15 s (a process left a zombie). npm exits before Haraka has finished
 * shutting down, which writes its state file into the server directory: a
 * directory removed meanwhile fails with ENOTEMPTY.
 */
async function stopGroup(pid: number): Promise<void> {
  const start = Date.now();
  if (groupAlive(pid)) process.kill(-pid, 'SIGTERM');
  while (groupAlive(pid) && Date.now() - start < 15_000) {
    if (Date.now() - start > 5_000) process.kill(-pid, 'SIGKILL');
    await sleep(100);
  }
}

t.test('npm start runs Haraka with paceline on the embedded store, relaying for loopback', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-start-'));
  const port = await freePort();
  const proc = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { ...process.env, PACELINE_DIR: dir, PACELINE_LISTEN: `127.0.0.1:${port}` },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  proc.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  t.teardown(async () => {
    if (proc.pid) await stopGroup(proc.pid);
    await exited;
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  });
  const deadline = Date.now() + 120_000;
  while (!/paceline ready/.test(log) && proc.exitCode === null && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 250));
  t.match(log, /paceline ready: store=memory/, `ready on the embedded store\n${log.slice(-3000)}`);
  t.ok(
    fs.existsSync(path.join(dir, 'config', 'paceline.ini')) || fs.existsSync(path.join(dir, 'config', 'plugins')),
    'the server directory was made',
  );
  const replies = await smtpDialogue(port, [
    'EHLO client.test',
    'MAIL FROM:<s@client.test>',
    'RCPT TO:<someone@elsewhere.test>',
    'RSET',
    'QUIT',
  ]);
  t.match(replies[0], /^220 /, 'the SMTP greeting');
  t.match(replies[3], /^250 /, `a loopback client may relay (RCPT to another domain accepted): ${replies.join(' | ')}`);
  t.notMatch(log, /\[(ERROR|CRIT)\]/, 'no ERROR or CRIT line at start');
  if (proc.pid) await stopGroup(proc.pid);
  await exited;
});
