/** The `paceline` command: dispatches to subcommands. */

import { check, type Output } from './check';
import { classifyCommand } from './classify';
import { CONTROL_USAGE, controlCommand, warmupCommand } from './control';
import { planCommand } from './plan';
import { statusCommand } from './status';
import { packageVersion } from './args';

const USAGE = `usage: paceline <command> [args]

commands:
  every command reads the Haraka directory given by --config DIR (or positional HARAKA_DIR where shown)

  check [--config DIR | HARAKA_DIR] [--connect] [--no-bind]   validate paceline.ini and paceline.yaml as Haraka in HARAKA_DIR
                       (default: current directory) would load them, and bind every source
                       address on this host (unless --no-bind); exit 1 if invalid or unbindable;
                       --connect also connects to the Redis store and checks it
  classify [--mx HOST] [--json] [--config DIR]   categorise SMTP replies read from stdin
  plan SOURCE [--provider P] [--config DIR] [--start DATE] [--json]   a source's warm-up ramp
  status [--config DIR | HARAKA_DIR] [--json] [--provider P] [--source S] [--state KIND] [--watch [SECONDS] [--count N]]
                       every lane: limits, sent, in flight, next free slot, state; sources marked down;
                       the operator controls in force
  pause|resume|lift|reset [HARAKA_DIR] ...   operator controls (see below)
  warmup reset|move [HARAKA_DIR] --source S ...   move a warming source on its schedule
  version, --version   the package's version
  help                 this text

${CONTROL_USAGE}`;

/** Runs the command line; returns the process exit code (a promise for commands that read stdin). */
export function main(
  argv: readonly string[],
  io: Output,
  input: NodeJS.ReadableStream = process.stdin,
): number | Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'check':
      return check(rest, io);
    case 'classify':
      return classifyCommand(rest, input, io);
    case 'plan':
      return planCommand(rest, io);
    case 'status':
      return statusCommand(rest, io);
    case 'pause':
    case 'resume':
    case 'lift':
    case 'reset':
      return controlCommand(command, rest, io);
    case 'warmup':
      return warmupCommand(rest, io);
    case 'version':
    case '--version':
      io.out(`paceline ${packageVersion()}`);
      return 0;
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
