--[[
  Count an attempt's outcome on a lane: tally() of the memory store, the
  fields of lib/core/tally.ts (d<day>:<name> for the day, m<bucket>:<name>
  for a 5-minute bucket). Old fields are dropped when the bucket changes
  (field "b" holds the bucket of the last prune); the hash expires after two
  idle days.

    Input:
      KEYS[1] tally hash  <prefix>v1:t:{source|provider}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME
      ARGV[2] the zone's offset from UTC, ms (day boundaries)
      ARGV[3..] counter names, each counted once

    Output:
      now  epoch ms
]]
--- @include "util"

local BUCKET_MS = 300000
local HOUR_BUCKETS = 12

local now = clock(ARGV[ARG.clock])
local day = math.floor((now + tonumber(ARGV[ARG.dayOffsetMs])) / DAY_MS)
local bucket = math.floor(now / BUCKET_MS)
local key = KEYS[1]

if redis.call('HGET', key, 'b') ~= tostring(bucket) then
  for _, field in ipairs(redis.call('HKEYS', key)) do
    local kind, n = string.match(field, '^([dm])(%d+):')
    n = tonumber(n)
    local keep = (kind == 'd' and n >= day - 1) or (kind == 'm' and n > bucket - HOUR_BUCKETS)
    if field ~= 'b' and not keep then redis.call('HDEL', key, field) end
  end
  redis.call('HSET', key, 'b', tostring(bucket))
end
for i = ARG.names, #ARGV do
  redis.call('HINCRBY', key, 'd' .. string.format('%d', day) .. ':' .. ARGV[i], 1)
  redis.call('HINCRBY', key, 'm' .. string.format('%d', bucket) .. ':' .. ARGV[i], 1)
end
redis.call('PEXPIRE', key, 2 * DAY_MS)
return fmt(now)
