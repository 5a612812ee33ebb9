/** Haraka's hook return codes (the package ships no types). */
declare module 'haraka-constants' {
  const constants: {
    readonly cont: number;
    readonly stop: number;
    readonly deny: number;
    readonly denysoft: number;
    readonly denydisconnect: number;
    readonly disconnect: number;
    readonly ok: number;
    readonly next_hook: number;
    readonly delay: number;
    readonly denysoftdisconnect: number;
  };
  export = constants;
}
