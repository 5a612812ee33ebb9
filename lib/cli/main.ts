/** The `paceline` command: dispatches to subcommands. */

import { check, type Output } from './check';

const USAGE = `usage: paceline <command> [args]

commands:
  check [HARAKA_DIR]   validate paceline.ini and paceline.yaml as Haraka in HARAKA_DIR
                       (default: current directory) would load them; exit 1 if invalid
  help                 this text`;

/** Runs the command line; returns the process exit code. */
export function main(argv: readonly string[], io: Output): number {
  const [command, ...rest] = argv;
  switch (command) {
    case 'check':
      return check(rest, io);
    case 'help':
    case '--help':
    case '-h':
      io.out(USAGE);
      return 0;
    default:
      io.err(command ? `paceline: unknown command "${command}"\n${USAGE}` : USAGE);
      return 2;
  }
}
