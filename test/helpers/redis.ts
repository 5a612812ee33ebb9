/**
 * Real Redis servers for tests and benchmarks: standalone, a 3-master Cluster
 * and a Sentinel-managed master with a replica. Each runs Debian's
 * redis-server on a free loopback port in its own temp dir, without
 * persistence, and is stopped on teardown and when this process exits. A
 * missing redis-server is an error that says how to install it, never a skip.
 */

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports';

const HOST = '127.0.0.1';
const INSTALL =
  'Install it (Debian/Ubuntu: sudo apt-get install redis-server, or as root: node scripts/ensure-deps.js --redis) and run again.';

/** Path of a Redis binary, or an Error that says how to install it. */
function binary(name: 'redis-server' | 'redis-cli'): string {
  const dirs = ['/usr/bin', ...(process.env.PATH ?? '').split(path.delimiter)];
  const found = dirs.map((d) => path.join(d, name)).find((p) => fs.existsSync(p));
  if (!found) throw new Error(`paceline tests need ${name}, which is not installed. ${INSTALL}`);
  return found;
}

// ---------------------------------------------------------------- processes

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => fs.existsSync(p));

const live = new Set<ChildProcess>();
const dirs = new Set<string>();

function cleanupSync(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  dirs.clear();
}

process.on('exit', cleanupSync);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    cleanupSync();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-redis-'));
  dirs.add(dir);
  return dir;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited(child);
  clearTimeout(timer);
  live.delete(child);
}

import { command, info, usePassword, waitFor, type Reply } from './resp';

export { command, info, waitFor };

// ---------------------------------------------------------------- one server

/**
 * Spawns redis-server (with config file `conf` first when given, as Sentinel
 * needs) plus `args`; resolves when PING answers, rejects with its output if
 * it exits first.
 */
async function launch(
  port: number,
  dir: string,
  args: readonly string[],
  conf?: string,
  password?: string,
): Promise<ChildProcess> {
  if (password !== undefined) usePassword(port, password);
  const base = [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
  ];
  const argv = [binary('redis-server'), ...(conf ? [conf] : []), ...base, ...args];
  // setpriv --pdeathsig: the kernel kills the server if this process dies, even by SIGKILL or a test timeout
  const [file, ...rest] = SETPRIV ? [SETPRIV, '--pdeathsig', 'KILL', '--', ...argv] : argv;
  const child = spawn(file as string, rest, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let log = '';
  const keep = (chunk: Buffer) => (log = (log + chunk.toString()).slice(-8000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let dead = false;
  child.once('exit', () => {
    dead = true;
    live.delete(child);
  });
  await waitFor(`redis-server on port ${port}`, async () => {
    if (dead) throw new Error(`redis-server exited:\n${log}`);
    return (await command(port, 'PING')) === 'PONG';
  }).catch((err: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}${dead ? '' : `\n${log}`}`);
  });
  return child;
}

/** Tries a few free ports (and fresh `args`): another process may take a port between the check and the bind. */
async function launchOnFreePort(
  dir: string,
  args: () => Promise<readonly string[]>,
  conf?: string,
  password?: string,
): Promise<{ port: number; proc: ChildProcess }> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort(HOST);
    try {
      return { port, proc: await launch(port, dir, await args(), conf, password) };
    } catch (err) {
      lastError = err;
      if (!/in use|bind/i.test(String(err))) throw err;
    }
  }
  throw lastError;
}

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** Stops the server (SIGTERM) and removes its directory. */
  stop(): Promise<void>;
  /** Kills the server at once (SIGKILL), for outage tests; `restart()` brings it back. */
  kill(): Promise<void>;
  /** Starts the server again on the same port and directory (empty: no persistence). */
  restart(): Promise<void>;
}

/**
 * Starts one redis-server; `args` are extra command-line options (`['--maxmemory', '10mb']`);
 * `password` sets requirepass (and the test helpers log in with it).
 */
export async function startRedis(opts: { args?: readonly string[]; password?: string } = {}): Promise<RedisServer> {
  binary('redis-server');
  const dir = tempDir();
  const extra = [...(opts.args ?? []), ...(opts.password !== undefined ? ['--requirepass', opts.password] : [])];
  const started = await launchOnFreePort(dir, async () => extra, undefined, opts.password);
  let proc: ChildProcess | undefined = started.proc;
  const port = started.port;
  return {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    async stop() {
      if (proc) await terminate(proc, 'SIGTERM');
      proc = undefined;
      fs.rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    },
    async kill() {
      if (proc) await terminate(proc, 'SIGKILL');
      proc = undefined;
    },
    async restart() {
      if (proc) await terminate(proc, 'SIGKILL');
      proc = await waitFor(
        `restart of redis-server on port ${port}`,
        () => launch(port, dir, [...extra], undefined, opts.password),
        10_000,
      );
    },
  };
}

// ---------------------------------------------------------------- cluster

export interface RedisClusterSetup {
  readonly nodes: Array<{ host: string; port: number }>;
  stop(): Promise<void>;
}

/**
 * Starts `masters` (default 3) cluster-enabled servers, joins them with `redis-cli --cluster create` and waits for
 * cluster_state:ok; `password` sets requirepass and masterauth on every node.
 */
export async function startRedisCluster(
  opts: { masters?: number; password?: string } = {},
): Promise<RedisClusterSetup> {
  const cli = binary('redis-cli');
  const count = opts.masters ?? 3;
  const procs: ChildProcess[] = [];
  const nodes: Array<{ host: string; port: number }> = [];
  const dirsUsed: string[] = [];
  const stop = async () => {
    await Promise.all(procs.map((p) => terminate(p, 'SIGTERM')));
    for (const d of dirsUsed) fs.rmSync(d, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < count; i++) {
      const dir = tempDir();
      dirsUsed.push(dir);
      const { port, proc } = await launchOnFreePort(
        dir,
        async () => [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          path.join(dir, 'nodes.conf'),
          '--cluster-port',
          String(await freePort(HOST)),
          '--cluster-node-timeout',
          '3000',
          ...(opts.password !== undefined ? ['--requirepass', opts.password, '--masterauth', opts.password] : []),
        ],
        undefined,
        opts.password,
      );
      procs.push(proc);
      nodes.push({ host: HOST, port });
    }
    const auth = opts.password !== undefined ? ['-a', opts.password, '--no-auth-warning'] : [];
    const create = [
      ...auth,
      '--cluster',
      'create',
      ...nodes.map((n) => `${n.host}:${n.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ];
    await new Promise<void>((resolve, reject) =>
      execFile(cli, create, { timeout: 30_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`redis-cli --cluster create: ${err.message}\n${stdout}${stderr}`)) : resolve(),
      ),
    );
    for (const n of nodes) {
      await waitFor(`cluster_state:ok on ${n.port}`, async () =>
        /cluster_state:ok/.test(String(await command(n.port, 'CLUSTER', 'INFO'))),
      );
      await waitFor(`${n.port} to know every master`, async () => {
        const lines = String(await command(n.port, 'CLUSTER', 'NODES')).split('\n');
        return lines.filter((l) => l.includes('master') && l.includes('connected')).length === count;
      });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, stop };
}

// ---------------------------------------------------------------- sentinel

export interface SentinelSetup {
  /** The master group name sentinels monitor. */
  readonly name: string;
  readonly sentinels: Array<{ host: string; port: number }>;
  /** Current master, as the sentinels announce it. */
  master(): Promise<{ host: string; port: number }>;
  /** SENTINEL FAILOVER, then waits until every sentinel announces the new master and it answers as master. */
  failover(): Promise<{ host: string; port: number }>;
  stop(): Promise<void>;
}

async function announced(sentinel: number, name: string): Promise<number> {
  const r = (await command(sentinel, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as Reply[];
  return Number(r[1]);
}

async function knowsReplica(sentinel: number, name: string, replica: number): Promise<boolean> {
  const rows = (await command(sentinel, 'SENTINEL', 'REPLICAS', name)) as Reply[][];
  return rows.some((row) => {
    const fields = new Map<string, string>();
    for (let i = 0; i + 1 < row.length; i += 2) fields.set(String(row[i]), String(row[i + 1]));
    return (
      Number(fields.get('port')) === replica &&
      fields.get('flags') === 'slave' &&
      fields.get('master-link-status') === 'ok'
    );
  });
}

/**
 * A master, one replica and `sentinels` (1–3, default 1) sentinels watching them under `name` (default "paceline").
 * `password` is the master's and replica's requirepass, `sentinelPassword` the sentinels' (no `"` or `\` in either).
 */
export async function startSentinel(
  opts: { sentinels?: number; name?: string; password?: string; sentinelPassword?: string } = {},
): Promise<SentinelSetup> {
  const name = opts.name ?? 'paceline';
  const count = Math.min(3, Math.max(1, opts.sentinels ?? 1));
  const servers: RedisServer[] = [];
  const sentinelProcs: ChildProcess[] = [];
  const sentinels: Array<{ host: string; port: number }> = [];
  const stop = async () => {
    await Promise.all(sentinelProcs.map((p) => terminate(p, 'SIGTERM')));
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    const auth = opts.password !== undefined ? { password: opts.password } : {};
    const master = await startRedis({
      ...auth,
      args: opts.password !== undefined ? ['--masterauth', opts.password] : [],
    });
    servers.push(master);
    const masterauth = opts.password !== undefined ? ['--masterauth', opts.password] : [];
    const replica = await startRedis({ ...auth, args: ['--replicaof', HOST, String(master.port), ...masterauth] });
    servers.push(replica);
    await waitFor(
      'replica in sync',
      async () => (await info(replica.port, 'replication')).get('master_link_status') === 'up',
    );
    for (let i = 0; i < count; i++) {
      const dir = tempDir();
      const conf = path.join(dir, 'sentinel.conf');
      fs.writeFileSync(
        conf,
        [
          `sentinel monitor ${name} ${HOST} ${master.port} ${Math.floor(count / 2) + 1}`,
          `sentinel down-after-milliseconds ${name} 1000`,
          `sentinel failover-timeout ${name} 5000`,
          `sentinel parallel-syncs ${name} 1`,
          ...(opts.password !== undefined ? [`sentinel auth-pass ${name} "${opts.password}"`] : []),
          ...(opts.sentinelPassword !== undefined ? [`requirepass "${opts.sentinelPassword}"`] : []),
          '',
        ].join('\n'),
      );
      const { port, proc } = await launchOnFreePort(dir, async () => ['--sentinel'], conf, opts.sentinelPassword);
      sentinelProcs.push(proc);
      sentinels.push({ host: HOST, port });
    }
    for (const s of sentinels)
      await waitFor(`sentinel ${s.port} to see the replica`, () => knowsReplica(s.port, name, replica.port), 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  const first = sentinels[0] as { host: string; port: number };
  const master = async () => ({ host: HOST, port: await announced(first.port, name) });
  return {
    name,
    sentinels,
    master,
    async failover() {
      const old = (await master()).port;
      await waitFor(
        'SENTINEL FAILOVER to be accepted',
        async () => (await command(first.port, 'SENTINEL', 'FAILOVER', name)) === 'OK',
        20_000,
      );
      let port = 0;
      for (const s of sentinels)
        port = await waitFor(
          `sentinel ${s.port} to announce a new master`,
          async () => {
            const p = await announced(s.port, name);
            return p !== old ? p : undefined;
          },
          20_000,
        );
      await waitFor(`${port} to be master`, async () => (await info(port, 'replication')).get('role') === 'master');
      return { host: HOST, port };
    },
    stop,
  };
}
