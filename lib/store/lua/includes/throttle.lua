--[[
  The throttle of lib/core/throttle.ts, in Lua: GCRA slot arithmetic, the
  departure spacing, the concurrency in force and blocker(), the same
  arithmetic on doubles in the same order as the TypeScript. Change
  throttle.ts and this file together.

  Needs the include "lane-state" (policy_of, lease_count, next_day_start).
  It includes "pace" (the slot clock of lib/core/pace.ts) itself.
]]

--- @include "pace"

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

-- changeRate() of throttle.ts: booked slots keep their place on the slot clock,
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
  local bound = s.tat - slot_tolerance(s, limits)
  if bound <= slot_time(s, now) then return now end
  return math.max(real_time(s, bound), now)
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
  -- the later of the two binds (see blocker() in throttle.ts)
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
