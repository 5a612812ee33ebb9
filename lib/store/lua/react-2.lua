--[[
  Apply one classified reply to a lane (slow down, pause, cap connections,
  block, forgive or just count): react() of lib/core/adapt.ts. The
  normalized state is written back in every case.

    Input:
      KEYS[1] lane state hash   <prefix>v1:s:{source|provider}
      KEYS[2] lane lease zset   <prefix>v1:l:{source|provider}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME
      ARGV[2] category: throttle | connections | suspend | blocked | forgive | (any other: counted)
      ARGV[3] the rule's own duration, ms; '' = the default of the category
      ARGV[4..11] react params: decrease, floor, throttle pause ms, hold ms,
              connections ms, suspend ms, accepted share, climb cost
      ARGV[12..22]
              limits (11 entries): rate count, rate period ms, rate burst,
              canonical rate string, concurrency, per day, policy recover
              step, recover interval ms, probe interval ms, day offset ms,
              policy climb step ('' = absent)

    Output:
      { effect, now, state... }
        effect  slowed | overshot | held | capped | suspended | blocked | forgiven | counted
        now     the script's clock, epoch ms, as exact text
        state   the new LaneState as in peek-2.lua
]]
--- @include "util"
--- @include "lane"
--- @include "adapt"

local now = clock(ARGV[1])
local params, i = read_react_params(ARGV, 4)
local limits = read_limits(ARGV, i)
local lane = load_lane(KEYS)
normalize(lane, limits, now, true)
local effect = lane_react(lane, limits, now, ARGV[2], opt_number(ARGV[3]), params)
save_lane(lane, now)
return state_reply(lane, { effect, fmt(now) })
