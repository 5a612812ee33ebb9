--[[
  The lane state of lib/core/lane-state.ts, in Lua: the limits and policy a
  script reads from ARGV, and the lane table read from the state hash.

  Needs the prelude generated from TypeScript (lib/store/redis-scripts.ts):
    CODE, DAY_MS, IDLE_TTL_MS, BLOCKED_TTL_MS, DEFAULT_POLICY, the state
    hash as parallel lists FIELD_NAMES, FIELD_PROPS (LaneState property),
    FIELD_NUMERIC, EMPTY_TEXT (the empty value as text), FIELD_INDEX (name
    to position) and EMPTY (emptyLane())
  and the include "util" (fmt, opt_number, clock).

  A lane table holds the LaneState properties except the leases, which stay
  in the ZSET KEYS[2] (member = lease id, score = expiry, epoch ms).
]]


-- LaneLimits from ARGV[i..i+12]: rate count, period ms, burst, canonical rate
-- string, concurrency, per day, policy recover step, recover interval ms,
-- trial interval ms, day offset ms, policy climb step, policy start, policy
-- start interval ms; '' = absent. Returns the limits and the next ARGV index.
local function read_limits(argv, i)
  local limits = { rateKey = '', concurrency = opt_number(argv[i + 4]), perDay = opt_number(argv[i + 5]) }
  local count = opt_number(argv[i])
  if count ~= nil then
    limits.periodMs = tonumber(argv[i + 1])
    limits.count = count
    limits.burst = tonumber(argv[i + 2])
    limits.rateKey = argv[i + 3]
  end
  local step = opt_number(argv[i + 6])
  if step ~= nil then
    limits.policy = {
      recoverStep = step, recoverIntervalMs = tonumber(argv[i + 7]), trialIntervalMs = tonumber(argv[i + 8]), climbStep = tonumber(argv[i + 10]),
      start = tonumber(argv[i + 11]), startIntervalMs = tonumber(argv[i + 12]),
    }
  end
  limits.dayOffsetMs = opt_number(argv[i + 9]) or 0
  return limits, i + 13
end

local function policy_of(limits)
  return limits.policy or DEFAULT_POLICY
end

-- Reads the state hash; a field never written reads as its EMPTY value. The
-- stored text is kept in lane.raw so that save_lane writes only what changed.
local function load_lane(keys)
  local flat = redis.call('HGETALL', keys[1])
  local raw = {}
  for i = 1, #flat, 2 do
    local at = FIELD_INDEX[flat[i]]
    if at then raw[at] = flat[i + 1] end
  end
  local lane = { stateKey = keys[1], leaseKey = keys[2], exists = #flat > 0, raw = raw }
  for i = 1, #FIELD_NAMES do
    local v, prop = raw[i], FIELD_PROPS[i]
    if not v then lane[prop] = EMPTY[prop]
    elseif FIELD_NUMERIC[i] then lane[prop] = tonumber(v)
    else lane[prop] = v end
  end
  return lane
end

local function lease_count(lane)
  return redis.call('ZCARD', lane.leaseKey)
end

-- dayNumber() and nextDayStartMs() of lib/core/day.ts, in a zone offsetMs ahead of UTC.
local function day_number(now, offsetMs)
  return math.floor((now + offsetMs) / DAY_MS)
end

local function next_day_start(now, offsetMs)
  return (day_number(now, offsetMs) + 1) * DAY_MS - offsetMs
end
