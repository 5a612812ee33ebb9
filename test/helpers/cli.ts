/**
 * The paceline command run in-process, as the e2e tests drive it: every line
 * it prints captured, and `status --json` read and polled.
 */
import { main } from '../../lib/cli/main';

export interface CliRun {
  code: number;
  out: string[];
  err: string[];
}

/** Runs `paceline ARGS` in this process and captures what it prints. */
export async function runCli(args: readonly string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...args], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

/** `paceline status --config DIR --json MORE...`, parsed; throws on a non-zero exit. */
export async function statusJson<T>(dir: string, ...more: string[]): Promise<T> {
  const r = await runCli(['status', '--config', dir, '--json', ...more]);
  if (r.code !== 0) throw new Error(`status exit ${r.code}: ${r.err.join('\n')}`);
  return JSON.parse(r.out[0] as string) as T;
}

/** Polls `status --json` every second until `ok` holds; fails with the last status after `timeoutMs`. */
export async function statusUntil<T>(dir: string, ok: (s: T) => boolean, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const s = await statusJson<T>(dir).catch(() => null);
    if (s && ok(s)) return s;
    if (Date.now() > end) throw new Error(`status never got there: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
