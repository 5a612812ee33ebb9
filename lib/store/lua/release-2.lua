--[[
  A delivery ended: free its lease and fold its duration into the moving
  average; a delivered one counts as accepted (the minute's sample, start
  phase evidence, acceptedAt) and, as a trial, unblocks a blocked lane. release() of
  lib/core/lane.ts. A lane without state is left alone (nothing is created),
  as in the memory store.

    Input:
      KEYS[1] lane state hash   <prefix>v1:s:{source|provider}
      KEYS[2] lane lease zset   <prefix>v1:l:{source|provider}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME
      ARGV[2] lease id
      ARGV[3] '1' when delivered, else '0'
      ARGV[4] delivery duration, ms; '' = unknown
      ARGV[5..17]
              limits (13 entries): rate count, rate period ms, rate burst,
              canonical rate string, concurrency, per day, policy recover
              step, recover interval ms, trial interval ms, day offset ms,
              policy climb step, policy start, policy start interval ms
              ('' = absent)

    Output:
      { now, found }
        now    the script's clock, epoch ms, as exact text
        found  1 when the lane had state, else 0
]]
--- @include "util"
--- @include "lane"

local now = clock(ARGV[ARG.clock])
local lane = load_lane(KEYS)
if not lane.exists then return { fmt(now), 0 } end
local limits = read_limits(ARGV, ARG.limits)
lane_release(lane, limits, now, ARGV[ARG.leaseId], ARGV[ARG.delivered] == '1', opt_number(ARGV[ARG.durationMs]))
save_lane(lane, now)
return { fmt(now), 1 }
