--[[
  Count a rule's matches on a lane within a sliding window, this one
  included: hit() of the memory store. Times live in a ZSET scored by time
  (member "<time>:<n>", unique even for equal times), pruned on every call.

    Input:
      KEYS[1] hit zset  <prefix>v1:h:{source|provider}:<rule>

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME
      ARGV[2] window, ms

    Output:
      count  matches with now - time < window, this one included (integer)
]]
--- @include "util"

local now = clock(ARGV[ARG.clock])
local window = tonumber(ARGV[ARG.windowMs])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', fmt(now - window))
local same = redis.call('ZCOUNT', KEYS[1], fmt(now), fmt(now))
redis.call('ZADD', KEYS[1], fmt(now), fmt(now) .. ':' .. (same + 1))
redis.call('PEXPIRE', KEYS[1], math.ceil(math.max(IDLE_TTL_MS, window)))
return redis.call('ZCARD', KEYS[1])
