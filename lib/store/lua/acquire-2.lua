--[[
  Check one lane and take a slot now, or (mode 'reserve') book its next rate
  slot on the same day, or say how long to wait: acquire() of
  lib/core/lane.ts. The normalized state is written back in every case.

    Input:
      KEYS[1] lane state hash   <prefix>v1:s:{source|provider}
      KEYS[2] lane lease zset   <prefix>v1:l:{source|provider}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME
      ARGV[2] mode: 'now' | 'reserve'
      ARGV[3] lease id (unique per delivery)
      ARGV[4] lease duration, ms
      ARGV[5..17]
              limits (13 entries): rate count, rate period ms, rate burst,
              canonical rate string, concurrency, per day, policy recover
              step, recover interval ms, trial interval ms, day offset ms,
              policy climb step, policy start, policy start interval ms
              ('' = absent)

    Output:
      { code, now, at, epoch, slot }
        code   CODE.GRANTED (lease taken), CODE.RESERVED (rate slot booked for
               at), CODE.WAIT_* (come back at at)
        now    the script's clock, epoch ms, as exact text
        at     epoch ms as exact text; '' when granted
        epoch  the lane's block epoch (a reservation carries it to claim)
        slot   the booked slot on the slot clock, exact text; '' unless reserved
]]
--- @include "util"
--- @include "lane"

local now = clock(ARGV[ARG.clock])
local limits = read_limits(ARGV, ARG.limits)
local lane = load_lane(KEYS)
normalize(lane, limits, now)
local code, at, slot = lane_acquire(lane, limits, now, ARGV[ARG.mode], ARGV[ARG.leaseId], tonumber(ARGV[ARG.leaseMs]))
save_lane(lane, now)
return decision_reply(code, now, at, lane, slot)
