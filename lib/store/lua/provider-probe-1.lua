--[[
  Take the provider's probe slot during an incident if it is due:
  takeProbe() of lib/core/provider-state.ts.

    Input:
      KEYS[1] provider hash  <prefix>v1:p:{provider}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME
      ARGV[2..6] incident params: window ms, min sources, share, pause ms,
              probe interval ms

    Output:
      { now, ok, at }
        ok  1 when the message may go (no incident, or the probe slot taken), else 0
        at  epoch ms as exact text: when the slot is (was) due
]]
--- @include "util"
--- @include "provider"

local now = clock(ARGV[ARG.clock])
local params = read_incident_params(ARGV, ARG.incident)
local s = load_provider(KEYS[1])
local before = s.probeAt
local ok, at = provider_probe(s, now, params)
if s.probeAt ~= before then save_provider(s, now) end
return { fmt(now), ok and 1 or 0, fmt(at) }
