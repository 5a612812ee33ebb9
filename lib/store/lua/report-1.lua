--[[
  Publish one Haraka process's report for `paceline status` (its sources
  with failures and its waiting messages), replacing its last one: report()
  of the memory store. The value starts with the time it stops counting, so
  status reads it by the store's clock; the key expires then too (same
  script, so a process gone leaves nothing behind).

    Input:
      KEYS[1] report  <prefix>v1:rep:{<process id>}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME
      ARGV[2] report text (JSON)
      ARGV[3] time to live, ms (> 0)

    Output:
      until  epoch ms the report stops counting
]]
--- @include "util"

local now = clock(ARGV[ARG.clock])
local ttl = tonumber(ARGV[ARG.ttlMs])
local untilMs = now + ttl
redis.call('SET', KEYS[1], fmt(untilMs) .. '\n' .. ARGV[ARG.text], 'PX', ttl)
return fmt(untilMs)
