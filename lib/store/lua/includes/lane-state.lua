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

-- LaneLimits from ARGV[i..i+ARG_SIZE.limits-1], fields at the LIMIT_ARGS
-- offsets the prelude has from lib/store/script-args.ts: rate count, period
-- ms, burst, canonical rate string, concurrency, per day, policy recover
-- step, recover interval ms, trial interval ms, day offset ms, policy climb
-- step, policy start, policy start interval ms; '' = absent. Returns the
-- limits and the next ARGV index.
local function read_limits(argv, i)
  local A = LIMIT_ARGS
  local limits = { rateKey = '', concurrency = opt_number(argv[i + A.concurrency]), perDay = opt_number(argv[i + A.perDay]) }
  local count = opt_number(argv[i + A.rateCount])
  if count ~= nil then
    limits.periodMs = tonumber(argv[i + A.ratePeriodMs])
    limits.count = count
    limits.burst = tonumber(argv[i + A.rateBurst])
    limits.rateKey = argv[i + A.rateKey]
  end
  local step = opt_number(argv[i + A.recoverStep])
  if step ~= nil then
    limits.policy = {
      recoverStep = step, recoverIntervalMs = tonumber(argv[i + A.recoverIntervalMs]),
      trialIntervalMs = tonumber(argv[i + A.trialIntervalMs]), climbStep = tonumber(argv[i + A.climbStep]),
      start = tonumber(argv[i + A.start]), startIntervalMs = tonumber(argv[i + A.startIntervalMs]),
    }
  end
  limits.dayOffsetMs = opt_number(argv[i + A.dayOffsetMs]) or 0
  return limits, i + ARG_SIZE.limits
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
