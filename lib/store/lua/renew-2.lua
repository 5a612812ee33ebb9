--[[
  A holder renews the leases of its live deliveries on one lane: each lease
  among the ids that has not expired expires ttl ms from now (or later, if
  it already did); an expired or unknown one stays gone. renewLeases() of
  lib/core/lease.ts. The lane's keys live at least as long as its leases.

    Input:
      KEYS[1] lane state hash   <prefix>v1:s:{source|provider}
      KEYS[2] lane lease zset   <prefix>v1:l:{source|provider}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME
      ARGV[2] lease time to live, ms
      ARGV[3..] lease ids

    Output:
      { now, renewed }
        now      the script's clock, epoch ms, as exact text
        renewed  how many leases were renewed
]]
--- @include "util"

local now = clock(ARGV[ARG.clock])
local ttl = tonumber(ARGV[ARG.ttlMs])
local renewed, last = 0, 0
for i = ARG.leaseIds, #ARGV do
  local score = redis.call('ZSCORE', KEYS[2], ARGV[i])
  if score and tonumber(score) > now then
    local expiresAt = math.max(tonumber(score), now + ttl)
    redis.call('ZADD', KEYS[2], fmt(expiresAt), ARGV[i])
    renewed = renewed + 1
    last = math.max(last, expiresAt)
  end
end
if renewed > 0 then
  local need = math.ceil(last - now)
  for k = 1, 2 do
    local left = redis.call('PTTL', KEYS[k])
    if left >= 0 and left < need then redis.call('PEXPIRE', KEYS[k], need) end
  end
end
return { fmt(now), renewed }
