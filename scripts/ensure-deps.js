#!/usr/bin/env node
/*
 * Installs what `npm start`, `npm test` and `npm run bench` need on a fresh
 * clone: the npm packages (when node_modules is missing or older than the
 * lock file) and, for the tests and benchmarks that run real Redis servers,
 * Debian's redis-server (`--redis`), and for the dashboard's browser test
 * Debian's chromium (`--chromium`), each when running as root; otherwise it
 * says how.
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

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Installs a Debian package with apt-get when `command` is missing; exits saying how when it cannot. */
function debianPackage(command, pkg, why) {
  if (hasCommand(command)) return false;
  if (isRoot() && hasCommand('apt-get')) {
    console.log(`paceline: installing ${pkg} (apt-get)`);
    execSync(`apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${pkg}`, {
      stdio: 'inherit',
    });
    return true;
  }
  console.error(`paceline: ${why} need ${pkg}. Install it (Debian/Ubuntu: sudo apt-get install ${pkg}) and run again.`);
  process.exit(1);
}

function redisServer() {
  if (!debianPackage('redis-server', 'redis-server', 'the tests')) return;
  spawnSync('sh', ['-c', 'systemctl disable --now redis-server 2>/dev/null; service redis-server stop 2>/dev/null'], {
    stdio: 'ignore',
  });
}

npmPackages();
if (want.has('--redis')) redisServer();
if (want.has('--chromium')) debianPackage('chromium', 'chromium', 'the dashboard test (test/e2e/dashboard.test.ts)');
