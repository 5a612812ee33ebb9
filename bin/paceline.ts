#!/usr/bin/env node
/** Entry point of the `paceline` command. */

import { main } from '../lib/cli/main';

// `paceline check | head` closes the pipe early; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

void Promise.resolve(
  main(process.argv.slice(2), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  }),
).then((code) => {
  process.exitCode = code;
});
