#!/usr/bin/env node
/*
 * Installs what `npm start`, `npm test` and `npm run bench` need on a fresh
 * clone: the npm packages (when node_modules is missing or older than the
 * lock file) and, for the tests and benchmarks that run real Redis servers,
 * Debian's redis-server (when running as root; otherwise it says how).
 * Plain JavaScript with no dependencies, because it runs before they exist.
 */
'use strict';

const { execSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const want = new Set(process.argv.slice(2));

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function npmPackages() {
  const marker = path.join(root, 'node_modules', '.package-lock.json');
  if (
    mtime(marker) >= mtime(path.join(root, 'package-lock.json')) &&
    fs.existsSync(path.join(root, 'node_modules', 'typescript'))
  )
    return;
  console.log('paceline: installing npm packages (npm ci)');
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}

function hasCommand(name) {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function redisServer() {
  if (hasCommand('redis-server')) return;
  if (typeof process.getuid === 'function' && process.getuid() === 0 && hasCommand('apt-get')) {
    console.log('paceline: installing redis-server (apt-get)');
    execSync('apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server', {
      stdio: 'inherit',
    });
    spawnSync('sh', ['-c', 'systemctl disable --now redis-server 2>/dev/null; service redis-server stop 2>/dev/null'], {
      stdio: 'ignore',
    });
    return;
  }
  console.error(
    'paceline: the tests need redis-server. Install it (Debian/Ubuntu: sudo apt-get install redis-server) and run again.',
  );
  process.exit(1);
}

npmPackages();
if (want.has('--redis')) redisServer();
