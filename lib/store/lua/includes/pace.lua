--[[
  lib/core/pace.ts in Lua: the slot clock, recovery (additive, then the
  climb) and the count of accepted deliveries. Included by "lane" (each
  include is expanded once); needs the prelude (MAX_CLIMB_DOUBLINGS).
]]

-- The slot clock of lib/core/pace.ts: slot time vOrigin at real time vAt,
-- running at factor x scale x real time after vAt, standing still before it.
local function slot_time(s, t)
  if t <= s.vAt then return s.vOrigin end
  return s.vOrigin + (t - s.vAt) * s.factor * s.scale
end

local function real_time(s, v)
  if v <= s.vOrigin then return s.vAt end
  return s.vAt + (v - s.vOrigin) / s.factor / s.scale
end

local function anchor(s, t)
  s.vOrigin = slot_time(s, t)
  s.vAt = t
end

-- setFactor(): a new pace from real time t on; booked slots keep their place on the slot clock.
local function set_factor(s, t, factor)
  if factor == s.factor then return end
  anchor(s, math.max(t, s.vAt))
  s.factor = factor
end

-- rescaleClock(): a new configured rate from t on; each booking stays as many intervals away, at the new rate.
local function rescale_clock(s, t, oldIntervalMs, newIntervalMs)
  anchor(s, math.max(t, s.vAt))
  s.scale = (s.scale * oldIntervalMs) / newIntervalMs
end

-- pauseClock(): the slot clock stands still from now until untilT.
local function pause_clock(s, now, untilT)
  anchor(s, math.max(now, math.min(s.vAt, untilT)))
  s.vAt = math.max(s.vAt, untilT)
end

-- resumeClock(): a stopped slot clock runs again from now.
local function resume_clock(s, now)
  if s.vAt > now then s.vAt = now end
end

-- recover() of pace.ts: additive steps up to the known-good pace, then a
-- climb above it whose step doubles (up to MAX_CLIMB_DOUBLINGS times).
local function recover(s, policy, now)
  if s.recoverAt == 0 or s.blockedAt ~= 0 then return end
  while s.factor < 1 and now >= s.recoverAt do
    local at = s.recoverAt
    if s.known == 0 or s.factor < s.known then
      local f
      if s.known == 0 then f = s.factor + policy.recoverStep else f = math.min(s.known, s.factor + policy.recoverStep) end
      set_factor(s, at, math.min(1, f))
      s.recoverAt = s.recoverAt + policy.recoverIntervalMs
    else
      set_factor(s, at, math.min(1, s.factor * (1 + policy.climbStep * 2 ^ math.min(s.climbs, MAX_CLIMB_DOUBLINGS))))
      s.climbs = s.climbs + 1
      s.recoverAt = s.recoverAt + math.max(policy.recoverIntervalMs, s.climbMs)
    end
  end
  if s.factor >= 1 then
    s.recoverAt = 0
    s.known = 0
  end
end

-- acceptedLastMinute() of pace.ts: two one-minute buckets, the older weighted by overlap.
local function accepted_last_minute(s, now)
  local minute = math.floor(now / 60000)
  local rest = 1 - (now % 60000) / 60000
  if s.acceptMinute == minute then return s.acceptCount + s.acceptPrev * rest end
  if s.acceptMinute == minute - 1 then return s.acceptCount * rest end
  return 0
end

local function count_accepted(s, now)
  local minute = math.floor(now / 60000)
  if s.acceptMinute ~= minute then
    if s.acceptMinute == minute - 1 then s.acceptPrev = s.acceptCount else s.acceptPrev = 0 end
    s.acceptCount = 0
    s.acceptMinute = minute
  end
  s.acceptCount = s.acceptCount + 1
end
