/**
 * `npm start`: a Haraka server with paceline on 127.0.0.1:2525, relaying for
 * loopback clients only, the embedded store and the shipped defaults. The
 * server's directory is .run/haraka (made on first start, kept after; its
 * files are written only when absent, so edits there stay). PACELINE_DIR and
 * PACELINE_LISTEN choose another directory and address.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
const dir = path.resolve(process.env.PACELINE_DIR ?? path.join(root, '.run', 'haraka'));
const listen = process.env.PACELINE_LISTEN ?? '127.0.0.1:2525';

const files: Record<string, string> = {
  'config/smtp.ini': `listen=${listen}\nnodes=0\n`,
  'config/me': 'paceline.localhost\n',
  'config/plugins': '# relay for loopback clients only, then pace outbound mail\nrelay\npaceline\n',
  'config/relay.ini': '[relay]\nacl=true\nforce_routing=false\ndest_domains=false\n',
  'config/relay_acl_allow': '127.0.0.0/8\n::1/128\n',
  'config/log.ini': '[main]\nlevel=info\ntimestamps=true\n',
  // no TLS key and certificate for a local try-out: without these keys Haraka logs two ERROR lines at start
  'config/tls.ini': '[main]\nkey=\ncert=\n',
};

function write(rel: string, text: string): void {
  const file = path.join(dir, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (!fs.existsSync(file)) fs.writeFileSync(file, text);
}

fs.mkdirSync(path.join(dir, 'queue'), { recursive: true });
for (const [rel, text] of Object.entries(files)) write(rel, text);
fs.copyFileSync(path.join(root, 'node_modules/Haraka/config/connection.ini'), path.join(dir, 'config/connection.ini'));
const link = path.join(dir, 'node_modules', 'haraka-plugin-paceline');
fs.mkdirSync(path.dirname(link), { recursive: true });
if (!fs.existsSync(link)) fs.symlinkSync(root, link, 'dir');

process.stdout.write(`paceline: starting Haraka in ${dir} on ${listen} (edit ${dir}/config to change it)\n`);
const haraka = spawn(process.execPath, [path.join(root, 'node_modules/Haraka/bin/haraka'), '-c', dir], {
  stdio: 'inherit',
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => haraka.kill(signal));
haraka.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});
