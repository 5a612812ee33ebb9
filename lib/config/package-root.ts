/** Where the package's shipped files (config/, lib/store/lua/) live. */

import path from 'node:path';

/** Package root (where the shipped config/ lives), from dist/lib/config or lib/config. */
export function packageRoot(): string {
  const here = __dirname;
  const up = here.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..';
  return path.resolve(here, up);
}
