/**
 * The operator controls inside a running Haraka: the control listener, one
 * log line per action, the memory store's controls kept in a file across
 * restarts, and the status snapshot rewritten at once so `paceline status`
 * shows an action immediately.
 */

import type { Config } from '../config/types';
import type { Engine } from '../engine/engine';
import { restoreControls, saveControls, type StoreLog } from '../store/open';
import { MemoryStore } from '../store/memory';
import type { PacingStore } from '../store/types';
import { runAction } from './actions';
import { startControlListener, type ControlListener } from './http';
import { loadDashboard } from './dashboard';

export interface PluginControls {
  readonly engine: Engine;
  readonly store: PacingStore;
  /** The Haraka directory (socket path base, controls file). */
  readonly dir: string;
  readonly log: StoreLog;
  /** Rewrites the status snapshot (memory store). */
  readonly snapshot?: () => Promise<void>;
}

/** Restores kept controls (memory store) and starts the listener; resolves with it (undefined when listen=off). */
export async function startPluginControls(config: Config, p: PluginControls): Promise<ControlListener | undefined> {
  const memory = p.store instanceof MemoryStore ? p.store : undefined;
  if (memory) restoreControls(memory, p.dir, p.log);
  return startControlListener(config.settings.control, p.dir, {
    controls: () => p.store.controls(),
    dashboard: () => loadDashboard(p.engine.current, p.store, p.dir),
    act: async (req) => {
      const result = await runAction(p.engine.current, p.store, req);
      p.log('notice', result.line);
      p.engine.refreshControls();
      if (memory) await saveControls(memory, p.dir);
      if (p.snapshot) await p.snapshot();
      return result;
    },
  });
}
