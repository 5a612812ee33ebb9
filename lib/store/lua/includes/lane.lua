--[[
  The lane operations of lib/core/lane.ts, in Lua: normalize, acquire,
  claim and release, the same steps in the same order, so that the Redis
  store decides exactly as the memory store (test/store/conformance.ts).
  Change lane.ts and this file together; the scripts stay thin. Then the
  store side, which lib/store/redis-codec.ts reads: writing the lane back
  with its TTLs, and the reply items.

  Needs the prelude generated from TypeScript (lib/store/redis-scripts.ts)
  and the include "util" (fmt, opt_number, clock). It includes "lane-state"
  (lib/core/lane-state.ts), "throttle" (lib/core/throttle.ts) and "start"
  (the start phase of lib/core/start.ts) itself.
]]

--- @include "lane-state"
--- @include "throttle"
--- @include "start"


-- EWMA_WEIGHT (the newest delivery's weight in the moving average) comes from
-- lane.ts through the generated prelude.

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
