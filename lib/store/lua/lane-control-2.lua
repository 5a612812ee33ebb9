--[[
  An operator's one-off change to a lane: liftLane() or resetPace() of
  lib/core/control.ts. A lane without state is left alone (nothing to lift,
  already at its configured pace).

    Input:
      KEYS[1] lane state hash   <prefix>v1:s:{source|provider}
      KEYS[2] lane lease zset   <prefix>v1:l:{source|provider}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME
      ARGV[2] lift | reset

    Output:
      { now, changed }  changed = 1 when the lane had state and was changed
]]
--- @include "util"
--- @include "lane"

local now = clock(ARGV[ARG.clock])
local s = load_lane(KEYS)
if not s.exists then return { fmt(now), 0 } end
if ARGV[ARG.op] == 'lift' then
  if s.pauseUntil > now then
    resume_clock(s, now)
    s.departAt = math.min(s.departAt, now)
  end
  s.pauseUntil = 0
  s.blockedAt = 0
  s.trialAt = 0
  s.connCap = 0
  s.connCapUntil = 0
  s.sameEventUntil = 0
  s.backoffs = 0
elseif ARGV[ARG.op] == 'reset' then
  set_factor(s, now, 1)
  s.prevFactor = 1
  s.known = 0
  s.climbMs = 0
  s.climbs = 0
  s.recoverAt = 0
  s.growAt = -now
  s.grown = 0
else
  return redis.error_reply('paceline: unknown lane control ' .. tostring(ARGV[ARG.op]))
end
save_lane(s, now)
return { fmt(now), 1 }
