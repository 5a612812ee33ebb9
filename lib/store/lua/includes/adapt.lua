--[[
  react() of lib/core/adapt.ts: how a lane reacts to a classified reply.
  Needs the includes "util" and "lane" (which brings "lane-state", "throttle", "pace" and "start").
]]

-- ReactParams from ARGV[i..i+ARG_SIZE.react-1], fields at the REACT_ARGS
-- offsets (lib/store/script-args.ts), all numbers. Returns the params and
-- the next ARGV index.
local function read_react_params(argv, i)
  local p = {}
  for field, at in pairs(REACT_ARGS) do p[field] = tonumber(argv[i + at]) end
  return p, i + ARG_SIZE.react
end

-- extendedPauseMs(): doubling pauses, each after the first taken in two halves.
local function extended_pause_ms(backoffs, p, maxMs)
  if backoffs <= 1 then return math.min(maxMs, 2 * p.throttlePauseMs) end
  return math.floor(math.min(maxMs, p.throttlePauseMs * 2 ^ (math.ceil((backoffs - 1) / 2) + 1)) / 2)
end

-- pauseUntil(): the slot clock stands still until the pause ends; no burst credit after it.
local function pause_until(s, limits, now, untilT)
  s.pauseUntil = untilT
  pause_clock(s, now, untilT)
  if limits.count == nil then return end
  s.tat = math.max(s.tat, slot_time(s, now) + slot_tolerance(s, limits))
  s.departAt = math.max(s.departAt, untilT + tolerance_ms(s, limits))
end

-- reopenedAt(): when the lane reopened after its last reaction (0 = never reacted).
-- Above slow_down and throttled, which call it: a Lua local exists only below its definition.
local function reopened_at(s, p)
  if s.sameEventUntil == 0 then return 0 end
  return s.sameEventUntil - p.sameEventMs
end

-- climbAfter(): the wait between climb steps, pause / climbCost, doubled (up to
-- 2^MAX_CLIMB_DOUBLINGS x) each time the lane is refused again at its first climb step.
local function climb_after(s, p, pauseMs, sameStep)
  local base = pauseMs / p.climbCost
  if sameStep == true then
    s.climbMs = math.min(base * 2 ^ MAX_CLIMB_DOUBLINGS, math.max(base, 2 * s.climbMs))
  else
    s.climbMs = base
  end
  s.climbs = 0
end

-- slowDown(): in the start phase the pace before its last growth step; else the
-- pace from what the provider accepted in the last minute when the lane has
-- been open that long (remembered as the known-good pace), else multiplied by
-- decrease.
local function slow_down(s, limits, p, now, pauseMs, policyIntervalMs, suspended)
  -- a sample shorter than the minute it claims to measure overstates the limit of a longer window;
  -- but a suspension costs hours, and what the provider accepted is a better guess than any other
  local sampled = suspended or s.sameEventUntil == 0 or now - reopened_at(s, p) >= 60000
  local accepted = 0
  if limits.count ~= nil and sampled then accepted = accepted_last_minute(s, now) / (60000 / (limits.periodMs / limits.count)) end
  s.prevFactor = s.factor
  s.backoffs = 0
  -- set when the lane was refused climbing above its known-good pace
  local sameClimb = nil
  if suspended and accepted > 0 then
    -- the start phase's guess ran one start interval: a second suspension would cost hours more
    if starting(s) then end_start(s, now) end
    set_factor(s, now, math.max(p.floor, p.acceptedShare * math.min(s.factor, accepted)))
    s.known = s.factor
  elseif starting(s) then
    set_factor(s, now, math.max(p.floor, end_start(s, now)))
    s.known = s.factor
  elseif s.known > 0 and s.factor > s.known then
    -- refused while climbing above the known-good pace: back to the pace before the
    -- last climb step, which ran clean, and that is the known-good pace now
    -- (refused at its first step: the same climb as last time, see climb_after())
    sameClimb = s.climbs <= 1
    local before = s.known
    if s.climbs > 0 then
      before = s.factor / (1 + policy_of(limits).climbStep * 2 ^ math.min(s.climbs - 1, MAX_CLIMB_DOUBLINGS))
    end
    set_factor(s, now, math.max(s.known, before))
    s.known = s.factor
  elseif accepted > 0 then
    set_factor(s, now, math.max(p.floor, p.acceptedShare * math.min(s.factor, accepted)))
    s.known = s.factor
  else
    set_factor(s, now, math.max(p.floor, s.factor * p.decrease))
  end
  climb_after(s, p, pauseMs, sameClimb)
  pause_until(s, limits, now, math.max(s.pauseUntil, now + pauseMs))
  -- back at the known-good pace, the next step is a climb: it waits as long as any climb step
  if sameClimb == nil then
    s.recoverAt = s.pauseUntil + policyIntervalMs
  else
    s.recoverAt = s.pauseUntil + math.max(policyIntervalMs, s.climbMs)
  end
end

-- throttled(): the throttle reaction (see adapt.ts): grouped, capped, extended,
-- else slowed or overshot. sentAt nil = unknown.
local function throttled(s, limits, now, durationMs, sentAt, p, interval)
  s.dayThrottles = s.dayThrottles + 1
  -- replies to messages sent before the lane reopened (or, not knowing when, arriving just after) are the same event
  local grouped
  if sentAt == nil then grouped = now < s.sameEventUntil else grouped = sentAt < reopened_at(s, p) end
  if grouped then return 'grouped' end
  local open = lease_count(s)
  -- sustainedSessions(): what the provider accepted at once on average over the last minute
  local sustained = accepted_last_minute(s, now) * s.meanDeliveryMs / 60000
  if sentAt ~= nil and open > 0 and (s.connCap == 0 or open < s.connCap) and open >= sustained then
    s.connCap = open
    s.connCapUntil = now + p.connectionsMs
    return 'capped'
  end
  local maxMs = durationMs or p.throttlePauseMaxMs
  if sentAt ~= nil and s.sameEventUntil ~= 0 and s.acceptedAt < reopened_at(s, p) then
    s.backoffs = s.backoffs + 1
    pause_until(s, limits, now, math.max(s.pauseUntil, now + extended_pause_ms(s.backoffs, p, maxMs)))
    -- new bookings begin when the lane reopens, not behind the slots given up
    if limits.count ~= nil then s.tat = slot_time(s, now) + slot_tolerance(s, limits) end
    s.sameEventUntil = s.pauseUntil + p.sameEventMs
    s.recoverAt = math.max(s.recoverAt, s.pauseUntil + interval)
    return 'extended'
  end
  -- a lane in its start phase, climbing above its known-good pace, or refused
  -- again within SETTLE_MS of reopening is still finding its own limit (no incident)
  local settling = reopened_at(s, p)
  if settling == 0 then settling = start_ended_at(s) end
  local overshot = starting(s) or (s.known > 0 and s.factor > s.known) or (settling ~= 0 and now - settling < SETTLE_MS)
  slow_down(s, limits, p, now, math.min(maxMs, p.throttlePauseMs), interval, false)
  s.sameEventUntil = s.pauseUntil + p.sameEventMs
  if overshot then return 'overshot' end
  return 'slowed'
end

-- Applies one reply category ('forgive' too) to a normalized lane; returns the
-- effect. durationMs, sentAt: nil = absent.
local function lane_react(s, limits, now, category, durationMs, sentAt, p)
  local interval = policy_of(limits).recoverIntervalMs
  if category == 'throttle' then
    return throttled(s, limits, now, durationMs, sentAt, p, interval)
  elseif category == 'connections' then
    local inForce = math.min(concurrency_limit(s, limits), math.max(1, lease_count(s)))
    s.connCap = math.max(1, math.floor(inForce / 2))
    s.connCapUntil = now + (durationMs or p.connectionsMs)
    return 'capped'
  elseif category == 'suspend' then
    s.dayThrottles = s.dayThrottles + 1
    local pauseMs = durationMs or p.suspendMs
    if now < s.sameEventUntil then
      if now + pauseMs <= s.pauseUntil + p.sameEventMs then return 'grouped' end
      pause_until(s, limits, now, now + pauseMs)
      s.recoverAt = s.pauseUntil + interval
      s.climbMs = math.max(s.climbMs, pauseMs / p.climbCost)
    else
      slow_down(s, limits, p, now, pauseMs, interval, true)
    end
    s.sameEventUntil = s.pauseUntil + p.sameEventMs
    return 'suspended'
  elseif category == 'blocked' then
    if s.blockedAt == 0 then
      s.blockedAt = now
      s.prevFactor = s.factor
      set_factor(s, now, p.floor)
      s.known = 0
      s.epoch = s.epoch + 1
      -- a blocked lane climbs back by recovery after a delivered trial, never by doubling
      if starting(s) then end_start(s, now) end
    end
    s.trialAt = now + policy_of(limits).trialIntervalMs
    return 'blocked'
  elseif category == 'forgive' then
    resume_clock(s, now)
    local target = s.prevFactor
    if s.known > 0 then target = s.known end
    set_factor(s, now, math.max(s.factor, target))
    s.pauseUntil = 0
    if limits.count ~= nil then s.departAt = math.min(s.departAt, now + tolerance_ms(s, limits)) end
    if durationMs and durationMs > 0 then pause_until(s, limits, now, now + durationMs) end
    if s.factor < 1 then s.recoverAt = math.max(now, s.pauseUntil) + interval else s.recoverAt = 0 end
    s.sameEventUntil = math.min(s.sameEventUntil, now + p.sameEventMs)
    return 'forgiven'
  end
  return 'counted'
end
