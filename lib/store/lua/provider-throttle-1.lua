--[[
  Record a lane's throttle reaction at provider level and say whether it is
  a provider-wide incident: recordThrottle() of lib/core/provider-state.ts.

    Input:
      KEYS[1] provider hash  <prefix>v1:p:{provider}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME
      ARGV[2..6] incident params: window ms, min sources, share, pause ms,
              probe interval ms
      ARGV[7] source name
      ARGV[8] number of the provider's sources in the config

    Output:
      { now, incident, pauseUntil, source_1, source_2, ... }
        incident    1 | 0
        pauseUntil  the provider's pause, epoch ms as exact text
        source_i  the sources the incident explains (unsorted)
]]
--- @include "util"
--- @include "provider"

local now = clock(ARGV[ARG.clock])
local params = read_incident_params(ARGV, ARG.incident)
local s = load_provider(KEYS[1])
local incident, names = provider_throttle(s, ARGV[ARG.source], tonumber(ARGV[ARG.sources]), now, params)
save_provider(s, now)
local reply = { fmt(now), incident and 1 or 0, fmt(s.pauseUntil) }
for _, name in ipairs(names) do reply[#reply + 1] = name end
return reply
