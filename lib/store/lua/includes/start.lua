--[[
  lib/core/start.ts in Lua: the start phase of a lane without history. It
  begins at policy.start x its pace and multiplies it by START_GROWTH every
  startIntervalMs in which at least GROWTH_EVIDENCE of what the pace allowed
  was accepted; the first refusal (include "adapt") ends it at the pace before
  the last growth step. Included by "lane" after "pace" (set_factor, real_time)
  and lease_count; needs the prelude (GROWTH_EVIDENCE, START_GROWTH).
]]

-- fresh(): a lane without history: no start phase yet, no traffic today or
-- before, nothing learnt, never reacted to (a lane that has sent at its
-- configured pace never enters the start phase later).
local function fresh(s)
  local traffic = s.dayCount > 0 or s.prevDay ~= 0 or s.acceptedAt ~= 0 or lease_count(s) > 0
  return s.growAt == 0 and not traffic and s.known == 0 and s.recoverAt == 0 and s.blockedAt == 0 and s.sameEventUntil == 0 and s.factor == 1
end

-- growthNeeded(): deliveries that must have been accepted in one growth
-- interval for the pace to grow; none when the pace allows less than one in
-- an evidence's worth of the interval and the lane has mail booked ahead.
local function growth_needed(s, limits, policy, now)
  if limits.count == nil then return 1 end
  local needed = math.floor((GROWTH_EVIDENCE * policy.startIntervalMs * s.factor) / (limits.periodMs / limits.count))
  if needed == 0 and real_time(s, s.tat) > now then return 0 end
  return math.max(1, needed)
end

-- startShare(): the share a fresh lane begins at: policy.start, never slower
-- than one message per start interval; 1 without a rate or a concurrency limit.
local function start_share(limits, policy)
  if limits.count ~= nil then return math.min(1, math.max(policy.start, (limits.periodMs / limits.count) / policy.startIntervalMs)) end
  if limits.concurrency == nil then return 1 end
  return policy.start
end

-- beginOrGrow(): begins the start phase of a fresh lane, or takes its due growth step (one per interval).
local function begin_or_grow(s, limits, policy, now)
  if policy.start >= 1 then return end
  if fresh(s) then
    local begin = start_share(limits, policy)
    if begin >= 1 then
      s.growAt = -now
      return
    end
    set_factor(s, now, begin)
    s.growAt = now + policy.startIntervalMs
    s.grown = 0
    return
  end
  if s.growAt <= 0 or now < s.growAt then return end
  if s.grown >= growth_needed(s, limits, policy, now) then set_factor(s, s.growAt, math.min(1, s.factor * START_GROWTH)) end
  s.grown = 0
  if s.factor >= 1 then s.growAt = -now else s.growAt = now + policy.startIntervalMs end
end

-- countGrowth(): a delivery was accepted: evidence for the next growth step while the start phase runs.
local function count_growth(s)
  if s.growAt > 0 then s.grown = s.grown + 1 end
end

-- endStart(): ends the start phase at a refusal; returns the pace to fall back to (the one before the last growth step).
local function end_start(s, now)
  s.growAt = -now
  s.grown = 0
  return s.factor / START_GROWTH
end

-- startEndedAt(): when the start phase ended (growAt < 0 holds it negated), 0 while it has not.
local function start_ended_at(s)
  if s.growAt < 0 then return -s.growAt end
  return 0
end

-- starting(): whether the lane is in its start phase.
local function starting(s)
  return s.growAt > 0
end
