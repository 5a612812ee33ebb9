/**
 * Every shell command shown in README.md and docs/ runs as written: in a
 * scratch Haraka directory made with `haraka -i`, with paceline installed from
 * the package `npm pack` makes (as a user installs it), the README's worked
 * example as its config (its documentation addresses 192.0.2.x replaced by
 * loopback ones 127.0.0.x, since `check` binds every source address), and
 * `/etc/haraka` standing for that directory.
 * Commands that need a running server run against one started in that
 * directory. A documented command this test does not know fails it.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { freePort } from '../helpers/ports';
import { SNAPSHOT_FILE } from '../../lib/store/open';

const ROOT = path.resolve(__dirname, '..', '..');
const HARAKA_BIN = path.join(ROOT, 'node_modules', 'Haraka', 'bin', 'haraka');

interface Shown {
  readonly file: string;
  readonly line: number;
  /** The command without its trailing comment. */
  readonly cmd: string;
}

/** Lines of ```sh / ```bash / ```shell blocks, trailing `# comments` removed. */
function shownCommands(): Shown[] {
  const files = [
    'README.md',
    ...fs
      .readdirSync(path.join(ROOT, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .map((f) => `docs/${f}`),
  ];
  const out: Shown[] = [];
  for (const file of files) {
    const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
    let inShell = false;
    lines.forEach((text, i) => {
      const fence = /^```(\w*)\s*$/.exec(text.trim());
      if (fence) {
        inShell = !inShell && ['sh', 'bash', 'shell', 'console'].includes(fence[1] as string);
        return;
      }
      if (!inShell) return;
      const cmd = text.replace(/\s+#\s.*$/, '').trim();
      if (cmd && !cmd.startsWith('#')) out.push({ file, line: i + 1, cmd });
    });
  }
  return out;
}

/** The README's worked example (the yaml block headed `# config/paceline.yaml`). */
function workedExample(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = /```yaml\n# config\/paceline\.yaml\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md: no ```yaml block starting with "# config/paceline.yaml"');
  return m[1] as string;
}

function sh(cmd: string, cwd: string, input?: string): { code: number | null; out: string } {
  const r = spawnSync('bash', ['-c', cmd], {
    cwd,
    input,
    encoding: 'utf8',
    timeout: 180_000,
    env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false' },
  });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** Starts Haraka in `dir` on a free loopback port; resolves once paceline is ready. */
async function startServer(dir: string): Promise<{ stop(): Promise<void>; log(): string }> {
  const port = await freePort();
  fs.writeFileSync(path.join(dir, 'config', 'smtp.ini'), `listen=127.0.0.1:${port}\nnodes=0\n`);
  let log = '';
  const proc = spawn(process.execPath, [HARAKA_BIN, '-c', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d: Buffer) => (log += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  while (!/paceline ready/.test(log)) {
    if (proc.exitCode !== null || Date.now() > deadline)
      throw new Error(`Haraka in ${dir} did not get ready:\n${log.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    log: () => log,
    async stop() {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

t.test('every documented shell command runs as written', async (t) => {
  const shown = shownCommands();
  t.ok(shown.length >= 10, `found the documented commands (${shown.length})`);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'paceline-docs-'));
  t.teardown(() => fs.rmSync(scratch, { recursive: true, force: true }));
  const dir = path.join(scratch, 'haraka');

  // The package as `npm pack` makes it (dist/ must be built: `npm test` builds first).
  const pack = sh(`npm pack --silent --pack-destination ${scratch}`, ROOT);
  t.equal(pack.code, 0, `npm pack: ${pack.out}`);
  const tarball = path.join(scratch, pack.out.trim().split('\n').pop() as string);
  t.ok(fs.existsSync(tarball), `the package ${tarball}`);
  const init = spawnSync(process.execPath, [HARAKA_BIN, '-i', dir], { encoding: 'utf8' });
  t.equal(init.status, 0, `haraka -i: ${init.stderr}`);
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "name": "scratch-haraka", "private": true }\n');
  fs.writeFileSync(
    path.join(scratch, 'replies.txt'),
    '451 4.7.500 Server busy. Please try again later from [192.0.2.10]\n421 4.7.28 Our system has detected an unusual rate of unsolicited mail\n',
  );

  /** How each documented command is run; `cwd` defaults to the Haraka directory. */
  const done = new Set<Shown>();
  const run = (s: Shown, cmd = s.cmd, check: (out: string) => boolean = () => true, input?: string) => {
    const r = sh(
      cmd.replaceAll('/etc/haraka', dir).replaceAll('< replies.txt', `< ${path.join(scratch, 'replies.txt')}`),
      dir,
      input,
    );
    t.equal(r.code, 0, `${s.file}:${s.line} \`${s.cmd}\` exits 0\n${r.out.slice(-2000)}`);
    t.ok(check(r.out), `${s.file}:${s.line} \`${s.cmd}\` prints what the docs say\n${r.out.slice(-2000)}`);
    done.add(s);
    return r.out;
  };
  const take = (re: RegExp) => shown.filter((s) => !done.has(s) && re.test(s.cmd));

  // README's install block, in order, as a user types it.
  for (const s of take(/^cd \/etc\/haraka$/)) done.add(s); // the scratch directory is the cwd of every command
  for (const s of take(/^npm install haraka-plugin-paceline$/)) run(s, `npm install --no-save ${tarball}`);
  for (const s of take(/^echo paceline >> config\/plugins$/)) run(s);
  for (const s of take(/^cp node_modules\/haraka-plugin-paceline\/config\/paceline\.\* config\/$/))
    run(s, s.cmd, () => fs.existsSync(path.join(dir, 'config', 'paceline.yaml')));
  t.ok(
    fs
      .readFileSync(path.join(dir, 'config', 'plugins'), 'utf8')
      .split('\n')
      .includes('paceline'),
    'config/plugins names paceline',
  );
  for (const s of take(/^npx paceline check \.$/)) run(s, s.cmd, (o) => /is valid/.test(o));

  // The worked example as printed: its addresses are not on this host, so `check` refuses it
  // unless told not to bind them.
  fs.writeFileSync(path.join(dir, 'config', 'paceline.yaml'), workedExample());
  t.equal(sh(`npx paceline check ${dir}`, dir).code, 1, 'check refuses source addresses that cannot be bound here');
  for (const s of take(/^npx paceline check \/etc\/haraka --no-bind$/)) run(s, s.cmd, (o) => /is valid/.test(o));
  // The README's worked example is the config every later command sees.
  fs.writeFileSync(path.join(dir, 'config', 'paceline.yaml'), workedExample().replaceAll('192.0.2.', '127.0.0.'));
  for (const s of take(/^npx paceline check \/etc\/haraka$/))
    run(s, s.cmd, (o) => /is valid/.test(o) && /source mta-new/.test(o));
  for (const s of take(/^npx paceline check \/etc\/haraka --connect$/))
    run(s, s.cmd, (o) => /store=memory, nothing to connect to/.test(o));
  for (const s of take(/^npx paceline plan mta-new/)) run(s, s.cmd, (o) => /conservative/.test(o));
  for (const s of take(/^echo '451 4\.7\.500.*\| npx paceline classify/)) run(s, s.cmd, (o) => /throttle/.test(o));
  for (const s of take(/^npx paceline classify --mx .*< replies\.txt$/)) run(s, s.cmd, (o) => /throttle/.test(o));
  const jsonLines = (o: string) =>
    o.trim().split('\n').length === 2 &&
    o
      .trim()
      .split('\n')
      .every((l) => typeof (JSON.parse(l) as { category?: unknown }).category === 'string');
  for (const s of take(/^npx paceline classify --json .*< replies\.txt$/)) run(s, s.cmd, jsonLines);

  // Commands that read a running server: Haraka in the scratch directory.
  const needServer = take(/^npx paceline (status|pause|resume|lift|reset|warmup) /);
  if (needServer.length > 0) {
    const server = await startServer(dir);
    t.teardown(() => server.stop());
    // the embedded store writes its snapshot for `status` every 10 s
    const snapshot = Date.now() + 25_000;
    while (Date.now() < snapshot && !fs.existsSync(path.join(dir, SNAPSHOT_FILE)))
      await new Promise((r) => setTimeout(r, 500));
    // a pause first, so that status shows it: the embedded store's controls reach Haraka through its control socket
    // the controls first, in the order the docs show them, so that status then shows what they left
    for (const s of needServer.filter((x) => !/^npx paceline status/.test(x.cmd)))
      run(s, s.cmd, (o) => o.trim().length > 0);
    for (const s of needServer.filter((x) => /^npx paceline status/.test(x.cmd)))
      run(s, s.cmd, (o) => /paceline status from/.test(o) && /ticket 1234/.test(o));
    await server.stop();
  }

  // Not run here, each for its reason: `npm test` is this suite (CI runs it through .ci/run);
  // `npm start` is run by test/docs/npm-start.test.ts.
  for (const s of take(/^npm (test|start)$/)) done.add(s);
  const unknown = shown.filter((s) => !done.has(s));
  t.same(
    unknown.map((s) => `${s.file}:${s.line} ${s.cmd}`),
    [],
    'every documented command was run (teach this test a new one)',
  );
});
