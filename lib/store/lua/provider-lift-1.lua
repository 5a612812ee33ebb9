--[[
  An operator ends a provider-wide incident: liftProvider() of
  lib/core/control.ts (no pause, no probing, no recent throttles; the
  cooldown after the last declared incident stays).

    Input:
      KEYS[1] provider hash  <prefix>v1:p:{provider}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME

    Output:
      { now, changed }  changed = 1 when the provider had state
]]
--- @include "util"
--- @include "provider"

local now = clock(ARGV[ARG.clock])
local s = load_provider(KEYS[1])
if not s.exists then return { fmt(now), 0 } end
s.throttled = {}
s.pauseUntil = 0
s.probing = 0
s.probeAt = 0
save_provider(s, now)
return { fmt(now), 1 }
