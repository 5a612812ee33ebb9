import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports';

/** Options of {@link startHaraka}. */
export interface HarakaOptions {
  /** config/plugins, in order (e.g. ['test_relay', 'test_mx'] or [..., 'paceline']) */
  plugins: string[];
  /**
   * extra files, path relative to the Haraka dir → content; written last, so they replace
   * the defaults (config/smtp.ini excepted: it is always generated from the port and `nodes`)
   */
  files?: Record<string, string>;
  /** smtp.ini nodes; default 0 (a single process, no cluster) */
  nodes?: number;
  /** extra environment for the Haraka process */
  env?: Record<string, string>;
  /** symlink the repo as node_modules/haraka-plugin-paceline (default true) */
  linkPaceline?: boolean;
  /** label for the temp dir and error messages */
  name?: string;
  /**
   * start again in the dir of an earlier (stopped) process instead of a fresh one: its
   * config, queue and state files are kept; `files` are written over it; `plugins` is ignored
   */
  dir?: string;
}

/** A running Haraka process started by {@link startHaraka}. */
export interface HarakaProcess {
  /** the Haraka install dir (config/, plugins/, queue/, haraka.log) */
  dir: string;
  /** SMTP port Haraka listens on at 127.0.0.1 */
  port: number;
  /** pid of the Haraka (master) process */
  pid: number;
  /** all stdout+stderr output so far */
  log(): string;
  /** resolves with the first match of `re` in the output (past or future); rejects on timeout or exit */
  waitForLog(re: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** SIGTERM (or `signal`), SIGKILL after 5 s; resolves once exited; idempotent */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** names of the queue files in <dir>/queue (no dotfiles, no temp files) */
  queueFiles(): string[];
  /** resolves with the exit code (null when killed by a signal) */
  exited: Promise<number | null>;
  /**
   * Starts Haraka again in the same dir (same config and queue, a new free port) once this
   * process has exited; rejects while it runs. The new process appends to the same haraka.log.
   */
  restart(): Promise<HarakaProcess>;
}

const REPO_ROOT = path.resolve(__dirname, '../..');
const HARAKA_ROOT = path.dirname(require.resolve('Haraka/package.json', { paths: [REPO_ROOT] }));
const HARAKA_BIN = path.join(HARAKA_ROOT, 'bin', 'haraka');
const START_TIMEOUT_MS = 20_000;
const KILL_AFTER_MS = 5_000;
const MAX_START_ATTEMPTS = 3;
/** test_relay.js, test_mx.js (Haraka plugins) and watchdog.js (preload) */
const FILES_DIR = path.join(__dirname, 'haraka-files');
const WATCHDOG = path.join(FILES_DIR, 'watchdog.js');

const running = new Set<ChildProcess>();
/** Dirs of processes that were started; removed at exit when the test process succeeded. */
const dirs = new Set<string>();
process.on('exit', (code) => {
  for (const child of running) killGroup(child, 'SIGKILL');
  if (code !== 0 || running.size > 0 || process.env.PACELINE_KEEP_HARAKA) return;
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

/** Signals the process group of a detached child (Haraka master + cluster workers). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}

function writeFile(dir: string, rel: string, content: string): void {
  const file = path.resolve(dir, rel);
  if (!file.startsWith(dir + path.sep)) throw new Error(`startHaraka: file path escapes the Haraka dir: ${rel}`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
}

function smtpIni(port: number, nodes: number | undefined): string {
  return `[main]\nlisten=127.0.0.1:${port}\nnodes=${nodes ?? 0}\n`;
}

/** Creates the Haraka install dir with the default config, test plugins and opts.files. */
function prepareDir(opts: HarakaOptions): string {
  const label = (opts.name ?? '').replace(/[^A-Za-z0-9_-]+/g, '_');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `paceline-haraka-${label ? `${label}-` : ''}`));
  const defaults: Record<string, string> = {
    'config/connection.ini': fs.readFileSync(path.join(HARAKA_ROOT, 'config', 'connection.ini'), 'utf8'),
    'config/me': 'haraka.test\n',
    'config/plugins': `${opts.plugins.join('\n')}\n`,
    'config/log.ini': '[main]\nlevel=info\ntimestamps=true\nformat=default\n',
    // Haraka 3.3.4 rejects intervals under 5 s (and then silently falls back to 64 s doubling).
    'config/outbound.ini': '[main]\ntemp_fail_intervals=5s*30\nenable_tls=false\n',
    'config/host_list': '',
    'plugins/test_relay.js': fs.readFileSync(path.join(FILES_DIR, 'test_relay.js'), 'utf8'),
    'plugins/test_mx.js': fs.readFileSync(path.join(FILES_DIR, 'test_mx.js'), 'utf8'),
  };
  for (const [rel, content] of Object.entries(defaults)) writeFile(dir, rel, content);
  fs.mkdirSync(path.join(dir, 'queue'));
  if (opts.linkPaceline ?? true) {
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(REPO_ROOT, path.join(dir, 'node_modules', 'haraka-plugin-paceline'), 'dir');
  }
  for (const [rel, content] of Object.entries(opts.files ?? {})) writeFile(dir, rel, content);
  return dir;
}

/** A clean environment: no HARAKA, no NODE_ENV=test, none of tap's loader/coverage settings. */
function harakaEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const drop = /^(HARAKA|HARAKA_TEST_DIR|NODE_OPTIONS|NODE_V8_COVERAGE|NODE_ENV|TAP|TAP_.*|_TAPJS_.*|TS_NODE_.*)$/;
  for (const [key, value] of Object.entries(process.env)) if (!drop.test(key)) env[key] = value;
  return { ...env, ...extra, PACELINE_TEST_PARENT_PID: String(process.pid) };
}

function lastLines(text: string, n = 40): string {
  return text
    .split('\n')
    .slice(-n - 1)
    .join('\n');
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** One spawned Haraka: output capture, exit tracking, stop. */
class HarakaRun {
  output = '';
  /** undefined while running */
  exitCode: number | null | undefined;
  /** 'code N' or 'signal SIGX' once exited */
  exitHow = '';
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  private readonly logFile: fs.WriteStream;
  private readonly listeners = new Set<() => void>();
  private stopping: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    env: NodeJS.ProcessEnv,
  ) {
    this.logFile = fs.createWriteStream(path.join(dir, 'haraka.log'), { flags: 'a' });
    this.child = spawn(process.execPath, ['-r', WATCHDOG, HARAKA_BIN, '-c', dir], {
      cwd: dir,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this.child);
    for (const stream of [this.child.stdout, this.child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (text: string) => this.append(text));
    }
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err) => this.append(`spawn error: ${err.message}\n`));
      this.child.once('close', (code, signal) => {
        this.exitCode = code;
        this.exitHow = signal ? `signal ${signal}` : `code ${code}`;
        running.delete(this.child);
        this.logFile.end();
        this.notify();
        resolve(code);
      });
    });
  }

  private append(text: string): void {
    this.output += text;
    this.logFile.write(text);
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  waitForLog(re: RegExp, timeoutMs: number, what = 'Haraka'): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const finish = (err: Error | null, match?: RegExpMatchArray): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
        if (err) reject(err);
        else if (match) resolve(match);
      };
      const check = (): void => {
        const match = this.output.match(re);
        if (match) return finish(null, match);
        if (this.exitCode !== undefined) {
          finish(new Error(`${what} exited (${this.exitHow}) before logging ${re}:\n${lastLines(this.output)}`));
        }
      };
      const timer = setTimeout(() => {
        finish(new Error(`${what}: no log line matching ${re} within ${timeoutMs} ms:\n${lastLines(this.output)}`));
      }, timeoutMs);
      this.listeners.add(check);
      check();
    });
  }

  /** Polls the SMTP port until it accepts a connection; throws with the log tail otherwise. */
  async waitForPort(port: number, what: string): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.exitCode !== undefined) {
        throw new Error(`${what} exited (${this.exitHow}) during startup:\n${lastLines(this.output)}`);
      }
      if (await canConnect(port)) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await this.stop();
    throw new Error(
      `${what} did not listen on 127.0.0.1:${port} within ${START_TIMEOUT_MS} ms:\n${lastLines(this.output)}`,
    );
  }

  stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    this.stopping ??= (async () => {
      if (this.exitCode !== undefined) return;
      killGroup(this.child, signal);
      const timer = setTimeout(() => killGroup(this.child, 'SIGKILL'), KILL_AFTER_MS);
      await this.exited;
      clearTimeout(timer);
    })();
    return this.stopping;
  }
}

/** In cluster mode the port opens with the first worker: wait until all of them listen. */
async function waitForWorkers(run: HarakaRun, nodes: number, what: string): Promise<void> {
  if (nodes < 2) return;
  const all = new RegExp(`(?:worker \\d+ listening on[\\s\\S]*?){${nodes}}`);
  try {
    await run.waitForLog(all, START_TIMEOUT_MS, what);
  } catch (err) {
    await run.stop();
    throw err;
  }
}

function queueFiles(dir: string): string[] {
  try {
    return fs
      .readdirSync(path.join(dir, 'queue'))
      .filter((name) => !name.startsWith('.') && !name.startsWith('__tmp__'))
      .sort();
  } catch {
    return [];
  }
}

/**
 * Starts a real Haraka 3.3.4 process in a fresh temp dir (prefix 'paceline-haraka-'),
 * listening on 127.0.0.1 at a free port, and waits until the port accepts connections.
 *
 * The dir holds a minimal config (smtp.ini, connection.ini, me, plugins, log.ini at
 * level info with timestamps, outbound.ini with 5 s retries, host_list), the test
 * plugins `test_relay` and `test_mx`, an empty queue/, and unless
 * `linkPaceline: false` a node_modules/haraka-plugin-paceline symlink to this repo.
 * Output goes to <dir>/haraka.log and `log()`. Every process is killed when the test
 * process exits, and exits on its own if the test process disappears. The temp dirs
 * are removed at exit if the test process exits with code 0 and no Haraka was left
 * running; set PACELINE_KEEP_HARAKA=1 to keep them.
 *
 * @param opts - plugins, extra files, cluster nodes, env
 * @returns the running process; call `stop()` in a teardown
 */
export async function startHaraka(opts: HarakaOptions): Promise<HarakaProcess> {
  const dir = opts.dir ?? prepareDir(opts);
  if (opts.dir) for (const [rel, content] of Object.entries(opts.files ?? {})) writeFile(dir, rel, content);
  dirs.add(dir);
  return launch(dir, opts);
}

/** Spawns Haraka in a prepared dir on a free port and waits until it listens (and all workers do). */
async function launch(dir: string, opts: HarakaOptions): Promise<HarakaProcess> {
  const what = `Haraka${opts.name ? ` (${opts.name})` : ''} in ${dir}`;
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    fs.writeFileSync(path.join(dir, 'config', 'smtp.ini'), smtpIni(port, opts.nodes));
    const run = new HarakaRun(dir, harakaEnv(opts.env));
    try {
      await run.waitForPort(port, what);
      await waitForWorkers(run, opts.nodes ?? 0, what);
    } catch (err) {
      if (attempt < MAX_START_ATTEMPTS && /EADDRINUSE/.test(run.output)) continue;
      throw err;
    }
    const pid = run.child.pid;
    if (pid === undefined) throw new Error(`${what}: spawn gave no pid`);
    return {
      dir,
      port,
      pid,
      log: () => run.output,
      waitForLog: (re, timeoutMs) => run.waitForLog(re, timeoutMs, what),
      stop: (signal) => run.stop(signal),
      queueFiles: () => queueFiles(dir),
      exited: run.exited,
      restart: async () => {
        if (run.exitCode === undefined) throw new Error(`${what}: restart() while it still runs; stop() it first`);
        return launch(dir, opts);
      },
    };
  }
}
