--[[
  Count an attempt's outcome on a lane: tally() of the memory store.

  The outcome counters, the fields of lib/core/tally.ts (d<day>:<name> for
  the day, m<bucket>:<name> for a 5-minute bucket): old fields are dropped
  when the bucket changes (field "b" holds the bucket of the last prune); the
  hash expires after two idle days. Names starting "mark:" (reactions) are
  not counted here.

  The lane's history, lib/core/history.ts (lib/store/memory-history.ts is the
  memory store's): field m<minute> = JSON {"c": counts, "p": pace factor text}
  for 48 h, field d<day> = JSON counts (marks left out) for keep_days days.
  Fields "lm"/"ld" hold the oldest minute/day that may still be stored and
  "nm"/"nd" the newest written, so each write deletes only the buckets that
  fell out since the last one (at most one window's worth). The hash expires after max(2, keep_days) idle days.

    Input:
      KEYS[1] tally hash    <prefix>v1:t:{source|provider}
      KEYS[2] history hash  <prefix>v1:y:{source|provider}
      KEYS[3] lane state    <prefix>v1:s:{source|provider} (read: its pace factor "f")

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME
      ARGV[2] the zone's offset from UTC, ms (day boundaries)
      ARGV[3] keep_days: day buckets kept (at least 2)
      ARGV[4..] counter names, each counted once

    Output:
      now  epoch ms
]]
--- @include "util"

local BUCKET_MS = 300000
local HOUR_BUCKETS = 12
local MINUTE_MS = 60000
local HISTORY_MINUTES = 2880

local now = clock(ARGV[ARG.clock])
local day = math.floor((now + tonumber(ARGV[ARG.dayOffsetMs])) / DAY_MS)
local bucket = math.floor(now / BUCKET_MS)
local keep_days = math.max(2, tonumber(ARGV[ARG.keepDays]))
local key = KEYS[1]

local outcomes = {}
local marks = {}
for i = ARG.names, #ARGV do
  if string.sub(ARGV[i], 1, 5) == 'mark:' then table.insert(marks, ARGV[i]) else table.insert(outcomes, ARGV[i]) end
end

-- outcome counters
if redis.call('HGET', key, 'b') ~= tostring(bucket) then
  for _, field in ipairs(redis.call('HKEYS', key)) do
    local kind, n = string.match(field, '^([dm])(%d+):')
    n = tonumber(n)
    local keep = (kind == 'd' and n >= day - 1) or (kind == 'm' and n > bucket - HOUR_BUCKETS)
    if field ~= 'b' and not keep then redis.call('HDEL', key, field) end
  end
  redis.call('HSET', key, 'b', tostring(bucket))
end
for _, name in ipairs(outcomes) do
  redis.call('HINCRBY', key, 'd' .. string.format('%d', day) .. ':' .. name, 1)
  redis.call('HINCRBY', key, 'm' .. string.format('%d', bucket) .. ':' .. name, 1)
end
redis.call('PEXPIRE', key, 2 * DAY_MS)

-- history: drop the buckets that fell out since the last write (between the
-- cursor, the oldest bucket that may be stored, and the newest one written)
local hist = KEYS[2]
local function drop_before(prefix, oldest, current)
  local from = tonumber(redis.call('HGET', hist, 'l' .. prefix) or oldest)
  local newest = tonumber(redis.call('HGET', hist, 'n' .. prefix) or current)
  for n = from, math.min(oldest - 1, newest) do
    redis.call('HDEL', hist, prefix .. string.format('%d', n))
  end
  redis.call('HSET', hist, 'l' .. prefix, string.format('%d', math.max(from, oldest)))
  redis.call('HSET', hist, 'n' .. prefix, string.format('%d', math.max(newest, current)))
end
local minute = math.floor(now / MINUTE_MS)
drop_before('m', minute - HISTORY_MINUTES + 1, minute)
drop_before('d', day - keep_days + 1, day)

-- adds 1 to counts[name] for each name; returns counts
local function add(counts, names)
  for _, name in ipairs(names) do counts[name] = (counts[name] or 0) + 1 end
  return counts
end
local minute_field = 'm' .. string.format('%d', minute)
local raw_minute = redis.call('HGET', hist, minute_field)
local counts = add(add(raw_minute and cjson.decode(raw_minute).c or {}, outcomes), marks)
local pace = redis.call('HGET', KEYS[3], 'f') or '1'
redis.call('HSET', hist, minute_field, cjson.encode({ c = counts, p = pace }))
if #outcomes > 0 then
  local day_field = 'd' .. string.format('%d', day)
  local raw_day = redis.call('HGET', hist, day_field)
  redis.call('HSET', hist, day_field, cjson.encode(add(raw_day and cjson.decode(raw_day) or {}, outcomes)))
end
redis.call('PEXPIRE', hist, keep_days * DAY_MS)
return fmt(now)
