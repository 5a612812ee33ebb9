--[[
  The stored state of one provider; a missing provider reads as
  emptyProvider(). Read-only.

    Input:
      KEYS[1] provider hash  <prefix>v1:p:{provider}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME

    Output:
      { now, pauseUntil, probing, probeAt, declaredAt, source_1, time_1, ... } (times as exact text)
]]
--- @include "util"
--- @include "provider"

local now = clock(ARGV[ARG.clock])
return provider_reply(load_provider(KEYS[1]), { fmt(now) })
