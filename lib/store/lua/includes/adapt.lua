--[[
  react() of lib/core/adapt.ts: how a lane reacts to a classified reply.
  Needs the includes "util" and "lane".
]]

-- ReactParams from ARGV[i..i+5]: decrease, floor, throttle pause ms, hold ms,
-- connections ms, suspend ms. Returns the params and the next ARGV index.
local function read_react_params(argv, i)
  local p = {
    decrease = tonumber(argv[i]), floor = tonumber(argv[i + 1]), throttlePauseMs = tonumber(argv[i + 2]),
    holdMs = tonumber(argv[i + 3]), connectionsMs = tonumber(argv[i + 4]), suspendMs = tonumber(argv[i + 5]),
  }
  return p, i + 6
end

local function slow_down(s, p, now, pauseMs, policyIntervalMs)
  s.prevFactor = s.factor
  s.factor = math.max(p.floor, s.factor * p.decrease)
  s.pauseUntil = math.max(s.pauseUntil, now + pauseMs)
  s.recoverAt = s.pauseUntil + policyIntervalMs
  s.epoch = s.epoch + 1
  s.tat = s.pauseUntil
  s.departAt = s.pauseUntil
end

-- Applies one reply category ('forgive' too) to a normalized lane; returns the effect.
local function lane_react(s, limits, now, category, durationMs, p)
  local interval = limits.policy and limits.policy.recoverIntervalMs or 300000
  if category == 'throttle' then
    s.dayThrottles = s.dayThrottles + 1
    local pauseMs = durationMs or p.throttlePauseMs
    -- replies to messages sent before or just after the pause belong to the same event
    if s.reactedAt ~= 0 and now - s.reactedAt < pauseMs + p.holdMs then return 'held' end
    s.reactedAt = now
    slow_down(s, p, now, pauseMs, interval)
    return 'slowed'
  elseif category == 'connections' then
    local inForce = math.min(concurrency_limit(s, limits.concurrency), math.max(1, lease_count(s)))
    s.connCap = math.max(1, math.floor(inForce / 2))
    s.connCapUntil = now + (durationMs or p.connectionsMs)
    return 'capped'
  elseif category == 'suspend' then
    s.dayThrottles = s.dayThrottles + 1
    slow_down(s, p, now, durationMs or p.suspendMs, interval)
    return 'suspended'
  elseif category == 'blocked' then
    if s.blockedAt == 0 then
      s.blockedAt = now
      s.prevFactor = s.factor
      s.factor = p.floor
      s.epoch = s.epoch + 1
    end
    s.probeAt = now + (limits.policy and limits.policy.probeIntervalMs or 3600000)
    return 'blocked'
  elseif category == 'forgive' then
    s.factor = math.max(s.factor, s.prevFactor)
    s.pauseUntil = 0
    s.recoverAt = 0
    s.reactedAt = 0
    return 'forgiven'
  end
  return 'counted'
end
