--[[
  A delivery to the provider succeeded: an incident is over.
  providerDelivered() of lib/core/provider-state.ts.

    Input:
      KEYS[1] provider hash  <prefix>v1:p:{provider}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME

    Output:
      { now, changed }  changed = 1 when an incident ended
]]
--- @include "util"
--- @include "provider"

local now = clock(ARGV[ARG.clock])
local s = load_provider(KEYS[1])
if s.probing ~= 1 then return { fmt(now), 0 } end
provider_delivered(s)
save_provider(s, now)
return { fmt(now), 1 }
