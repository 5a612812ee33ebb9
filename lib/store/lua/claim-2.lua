--[[
  A message comes back for the rate slot it reserved: take a concurrency
  lease now, or say how long to wait; the slot's real time follows the pace
  (slot clock); a booking from before a block, or one far behind its slot,
  books again. claim() of lib/core/lane.ts; the normalized
  state is written back in every case.

    Input:
      KEYS[1] lane state hash   <prefix>v1:s:{source|provider}
      KEYS[2] lane lease zset   <prefix>v1:l:{source|provider}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME
      ARGV[2] the booked slot on the lane's slot clock (exact text of a double)
      ARGV[3] epoch the reservation was made in
      ARGV[4] lease id (unique per delivery)
      ARGV[5] lease duration, ms
      ARGV[6..18]
              limits (13 entries): rate count, rate period ms, rate burst,
              canonical rate string, concurrency, per day, policy recover
              step, recover interval ms, trial interval ms, day offset ms,
              policy climb step, policy start, policy start interval ms
              ('' = absent)

    Output:
      { code, now, at, epoch, slot } as acquire-2.lua
]]
--- @include "util"
--- @include "lane"

local now = clock(ARGV[ARG.clock])
local limits = read_limits(ARGV, ARG.limits)
local lane = load_lane(KEYS)
local req = { slot = tonumber(ARGV[ARG.slot]), epoch = tonumber(ARGV[ARG.epoch]), leaseId = ARGV[ARG.leaseId], leaseMs = tonumber(ARGV[ARG.leaseMs]) }
local code, at, slot = lane_claim(lane, limits, now, req)
save_lane(lane, now)
return decision_reply(code, now, at, lane, slot)
