--[[
  The lane model of lib/core/lane.ts, in Lua: the same steps, the same
  arithmetic on doubles in the same order, so that the Redis store decides
  exactly as the memory store (test/store/conformance.ts). Change lane.ts and
  this file together; the scripts stay thin.

  Needs the prelude generated from TypeScript (lib/store/redis-scripts.ts):
    CODE, DAY_MS, IDLE_TTL_MS, BLOCKED_TTL_MS, DEFAULT_POLICY, the state
    hash as parallel lists FIELD_NAMES, FIELD_PROPS (LaneState property),
    FIELD_NUMERIC, EMPTY_TEXT (the empty value as text), FIELD_INDEX (name
    to position) and EMPTY (emptyLane())
  and the include "util" (fmt, opt_number, clock). It includes "pace" (the
  slot clock, recovery and accepted deliveries of lib/core/pace.ts) and
  "start" (the start phase of lib/core/start.ts) itself.

  A lane table holds the LaneState properties except the leases, which stay
  in the ZSET KEYS[2] (member = lease id, score = expiry, epoch ms).
]]

-- EWMA_WEIGHT (the newest delivery's weight in the moving average) comes from
-- lane.ts through the generated prelude.

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

--- @include "pace"
--- @include "start"

-- keyIntervalMs() of rate.ts: the interval of a canonical rate string, nil for anything else.
local PERIOD_MS = { s = 1000, min = 60000, h = 3600000, day = 86400000 }
local function key_interval(key)
  local count, unit = string.match(key, '^(%d+)/(%w+)')
  if not count then return nil end
  local periodMs = PERIOD_MS[unit]
  if not periodMs then periodMs = tonumber(string.match(unit, '^(%d+)ms$')) end
  local rest = string.sub(key, #count + #unit + 2)
  if not periodMs or (rest ~= '' and string.sub(rest, 1, 1) ~= ',') then return nil end
  return periodMs / tonumber(count)
end

-- changeRate() of lane.ts: booked slots keep their place on the slot clock,
-- rescaled to the new interval; to or from no rate, the lane starts afresh.
local function change_rate(s, limits, now)
  local oldMs = key_interval(s.rateKey)
  if limits.count ~= nil and oldMs ~= nil and s.tat ~= 0 then
    rescale_clock(s, now, oldMs, limits.periodMs / limits.count)
  else
    s.tat = 0
  end
  s.departAt = 0
  s.rateKey = limits.rateKey
end

-- normalize(): expired leases, day rollover, changed rate, ended pauses and
-- caps, recovery, then the start phase. keepRate leaves the rate state alone (release, react).
local function normalize(s, limits, now, keepRate)
  redis.call('ZREMRANGEBYSCORE', s.leaseKey, '-inf', fmt(now))
  if not keepRate and limits.rateKey ~= s.rateKey then change_rate(s, limits, now) end
  local today = day_number(now, limits.dayOffsetMs)
  if s.day ~= today then
    if s.dayCount > 0 or s.dayThrottles > 0 then
      s.prevDay = s.day
      s.prevDayCount = s.dayCount
      s.prevDayThrottles = s.dayThrottles
    end
    s.day = today
    s.dayCount = 0
    s.dayThrottles = 0
  end
  if s.pauseUntil ~= 0 and s.pauseUntil <= now then s.pauseUntil = 0 end
  if s.connCapUntil ~= 0 and s.connCapUntil <= now then
    s.connCap = 0
    s.connCapUntil = 0
  end
  local policy = policy_of(limits)
  recover(s, policy, now)
  begin_or_grow(s, limits, policy, now)
end

local function pace_interval(s, limits)
  return (limits.periodMs / limits.count) / s.factor
end

-- toleranceMs(): the burst scales with the pace, at least two when two or more are configured.
local function tolerance_ms(s, limits)
  local burst = math.max(math.min(2, limits.burst), math.ceil(limits.burst * s.factor))
  return (burst - 1) * pace_interval(s, limits)
end

-- concurrencyLimit(): scaled by the pace, never below what the pace needs, any temporary cap.
local function concurrency_limit(s, limits)
  local configured = limits.concurrency
  if configured == nil then
    if s.connCap > 0 then return s.connCap end
    return math.huge
  end
  local limit = math.max(1, math.floor(configured * s.factor))
  if limits.count ~= nil and s.factor < 1 then
    local needed = math.ceil(s.meanDeliveryMs / pace_interval(s, limits)) + 1
    limit = math.min(configured, math.max(limit, needed))
  end
  if s.connCap > 0 then limit = math.min(limit, s.connCap) end
  return limit
end

-- slotTolerance(): the burst tolerance on the slot clock.
local function slot_tolerance(s, limits)
  return tolerance_ms(s, limits) * s.factor * s.scale
end

-- The slot the next booking gets, on the slot clock.
local function next_slot(s, limits, now)
  return math.max(s.tat - slot_tolerance(s, limits), slot_time(s, now))
end

local function rate_free_at(s, limits, now)
  if limits.count == nil then return now end
  return math.max(real_time(s, next_slot(s, limits, now)), now)
end

-- nextFreeAt(): real time of the next free rate slot, 0 when idle.
local function next_free_at(s)
  if s.tat == 0 then return 0 end
  return real_time(s, s.tat)
end

-- departFreeAt(): the departure spacing's earliest time for the next message.
local function depart_free_at(s, limits, now)
  if limits.count == nil then return now end
  return math.max(s.departAt - tolerance_ms(s, limits), now)
end

local function concurrency_free_at(s, limits, now)
  local limit = concurrency_limit(s, limits)
  if limit == math.huge or lease_count(s) < limit then return now end
  local first = redis.call('ZRANGE', s.leaseKey, 0, 0, 'WITHSCORES')[2]
  local firstExpiry = first and tonumber(first) or math.huge
  return math.min(firstExpiry, now + math.max(1000, s.meanDeliveryMs))
end

-- blocker(): the first binding constraint as a WAIT_* code and until when; nil when free.
local function blocker(s, limits, now)
  if limits.perDay ~= nil and s.dayCount >= limits.perDay then return CODE.WAIT_DAILY, next_day_start(now, limits.dayOffsetMs) end
  if s.blockedAt ~= 0 then
    if s.trialAt > now then return CODE.WAIT_BLOCKED, s.trialAt end
    if lease_count(s) > 0 then return CODE.WAIT_BLOCKED, concurrency_free_at(s, { concurrency = 1 }, now) end
    return nil, nil
  end
  if s.pauseUntil > now then return CODE.WAIT_PAUSED, s.pauseUntil end
  -- the later of the two binds (see blocker() in lane.ts)
  local concurrencyAt = concurrency_free_at(s, limits, now)
  local rateAt = math.max(rate_free_at(s, limits, now), depart_free_at(s, limits, now))
  if rateAt > now and rateAt >= concurrencyAt then return CODE.WAIT_RATE, rateAt end
  if concurrencyAt > now then return CODE.WAIT_CONCURRENCY, concurrencyAt end
  return nil, nil
end

-- takeSlot(): takes the next rate slot; returns it (on the slot clock).
-- countDay false: a message booking again was counted for the day already.
local function take_slot(s, limits, now, countDay)
  local slot = 0
  if limits.count ~= nil then
    slot = next_slot(s, limits, now)
    s.tat = math.max(s.tat, slot_time(s, now)) + limits.periodMs / limits.count * s.scale
  end
  if countDay then s.dayCount = s.dayCount + 1 end
  if s.blockedAt ~= 0 then s.trialAt = now + policy_of(limits).trialIntervalMs end
  return slot
end

-- countLeaving(): a message leaves: space the next departure; count per minute for status.
local function count_leaving(s, limits, now)
  if limits.count ~= nil then s.departAt = math.max(s.departAt, now) + pace_interval(s, limits) end
  local minute = math.floor(now / 60000)
  if s.minute == minute then s.minuteCount = s.minuteCount + 1 else s.minuteCount = 1 end
  s.minute = minute
end

local function add_lease(s, id, expiresAt)
  redis.call('ZADD', s.leaseKey, fmt(expiresAt), id)
end

-- acquire() on a normalized lane: returns code, at (nil when granted), slot (when reserved).
local function lane_acquire(s, limits, now, mode, leaseId, leaseMs, rebook)
  local countDay = not rebook
  local code, at = blocker(s, limits, now)
  if code == nil then
    take_slot(s, limits, now, countDay)
    count_leaving(s, limits, now)
    add_lease(s, leaseId, now + leaseMs)
    return CODE.GRANTED, nil
  end
  if code == CODE.WAIT_RATE and mode == 'reserve' and at < next_day_start(now, limits.dayOffsetMs) then
    local slot = take_slot(s, limits, now, countDay)
    return CODE.RESERVED, at, slot
  end
  return code, at
end

-- claim() of lane.ts: the booked slot's real time follows the slot clock; a
-- booking from before a block, or one far behind its slot that finds the lane
-- busy, books again without counting the day twice.
local function lane_claim(s, limits, now, req)
  normalize(s, limits, now)
  if req.epoch ~= s.epoch then return lane_acquire(s, limits, now, 'reserve', req.leaseId, req.leaseMs, true) end
  local due = now
  if limits.count ~= nil then due = real_time(s, req.slot) end
  if due > now then return CODE.WAIT_RATE, due end
  if s.pauseUntil > now then return CODE.WAIT_PAUSED, s.pauseUntil end
  local late = now - due > LATE_MS
  local at = concurrency_free_at(s, limits, now)
  if at > now then
    if late then return lane_acquire(s, limits, now, 'reserve', req.leaseId, req.leaseMs, true) end
    return CODE.WAIT_CONCURRENCY, at
  end
  local departAt = depart_free_at(s, limits, now)
  if departAt > now then
    if late then return lane_acquire(s, limits, now, 'reserve', req.leaseId, req.leaseMs, true) end
    return CODE.WAIT_RATE, departAt
  end
  count_leaving(s, limits, now)
  add_lease(s, req.leaseId, now + req.leaseMs)
  return CODE.GRANTED, nil
end

-- release(): frees the lease, learns the duration; a delivery counts as
-- accepted (the minute's sample, start-phase evidence, acceptedAt); a delivered
-- trial unblocks.
local function lane_release(s, limits, now, leaseId, delivered, durationMs)
  normalize(s, limits, now, true)
  redis.call('ZREM', s.leaseKey, leaseId)
  if durationMs ~= nil and durationMs >= 0 and durationMs < math.huge then
    s.meanDeliveryMs = s.meanDeliveryMs + EWMA_WEIGHT * (durationMs - s.meanDeliveryMs)
  end
  if delivered then
    count_accepted(s, now)
    count_growth(s)
    s.acceptedAt = now
  end
  if delivered and s.blockedAt ~= 0 then
    s.blockedAt = 0
    s.trialAt = 0
    s.recoverAt = now + policy_of(limits).recoverIntervalMs
  end
end

-- Writes the changed fields back (a field never set stays absent while it
-- holds its EMPTY value) and sets both keys' TTL in the same script:
-- IDLE_TTL_MS after the last write or after the last pending time (slot,
-- pause, cap, trial, lease), whichever is later; a blocked lane is remembered
-- BLOCKED_TTL_MS.
local function save_lane(s, now)
  local args = {}
  for i = 1, #FIELD_NAMES do
    local prop, old = FIELD_PROPS[i], s.raw[i]
    local v = s[prop]
    local same
    if not old then same = v == EMPTY[prop]
    elseif FIELD_NUMERIC[i] then same = tonumber(old) == v
    else same = old == v end
    if not same then
      args[#args + 1] = FIELD_NAMES[i]
      args[#args + 1] = FIELD_NUMERIC[i] and fmt(v) or v
    end
  end
  if #args == 0 and not s.exists then args = { FIELD_NAMES[1], fmt(s[FIELD_PROPS[1]]) } end
  if #args > 0 then redis.call('HSET', s.stateKey, unpack(args)) end
  local pending = math.max(next_free_at(s), s.departAt, s.pauseUntil, s.connCapUntil, s.trialAt)
  local last = redis.call('ZRANGE', s.leaseKey, -1, -1, 'WITHSCORES')[2]
  if last then pending = math.max(pending, tonumber(last)) end
  local ttl = math.max(IDLE_TTL_MS, pending - now)
  if s.blockedAt ~= 0 then ttl = math.max(ttl, BLOCKED_TTL_MS) end
  ttl = math.ceil(ttl)
  redis.call('PEXPIRE', s.stateKey, ttl)
  redis.call('PEXPIRE', s.leaseKey, ttl)
end

-- A LaneState as reply items: the FIELDS in order, then lease id and expiry pairs by expiry.
local function state_reply(s, reply)
  for i = 1, #FIELD_NAMES do
    local v = s[FIELD_PROPS[i]]
    reply[#reply + 1] = FIELD_NUMERIC[i] and fmt(v) or v
  end
  local leases = redis.call('ZRANGE', s.leaseKey, 0, -1, 'WITHSCORES')
  for i = 1, #leases do reply[#reply + 1] = leases[i] end
  return reply
end

-- The stored state of a lane as reply items, as state_reply, straight from
-- the hash (no parsing): what peek needs on every decision.
local function stored_state_reply(keys, reply)
  local flat = redis.call('HGETALL', keys[1])
  local base = #reply
  for i = 1, #FIELD_NAMES do reply[base + i] = EMPTY_TEXT[i] end
  for i = 1, #flat, 2 do
    local at = FIELD_INDEX[flat[i]]
    if at then reply[base + at] = flat[i + 1] end
  end
  local leases = redis.call('ZRANGE', keys[2], 0, -1, 'WITHSCORES')
  for i = 1, #leases do reply[#reply + 1] = leases[i] end
  return reply
end

-- The reply of acquire and claim: { code, now, at, epoch, slot } with doubles as exact text.
local function decision_reply(code, now, at, s, slot)
  return { code, fmt(now), at and fmt(at) or '', fmt(s.epoch), slot and fmt(slot) or '' }
end
