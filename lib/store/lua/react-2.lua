--[[
  Apply one classified reply to a lane (slow down, pause or extend a pause,
  cap connections, block, forgive or just count): react() of lib/core/adapt.ts. The
  normalized state is written back in every case.

    Input:
      KEYS[1] lane state hash   <prefix>v1:s:{source|provider}
      KEYS[2] lane lease zset   <prefix>v1:l:{source|provider}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME
      ARGV[2] category: throttle | connections | suspend | blocked | forgive | (any other: counted)
      ARGV[3] the rule's own duration, ms; '' = the default of the category
              (for a throttle: the longest its pause grows to)
      ARGV[4] when the refused message was sent (its lease began), epoch ms;
              '' = unknown
      ARGV[5..13] react params: decrease, floor, throttle pause ms, same-event window ms,
              connections ms, suspend ms, accepted share, climb cost,
              throttle pause max ms
      ARGV[14..26]
              limits (13 entries): rate count, rate period ms, rate burst,
              canonical rate string, concurrency, per day, policy recover
              step, recover interval ms, trial interval ms, day offset ms,
              policy climb step, policy start, policy start interval ms
              ('' = absent)

    Output:
      { effect, now, state... }
        effect  slowed | overshot | extended | grouped | capped | suspended | blocked | forgiven | counted
        now     the script's clock, epoch ms, as exact text
        state   the new LaneState as in peek-2.lua
]]
--- @include "util"
--- @include "lane"
--- @include "adapt"

local now = clock(ARGV[ARG.clock])
local params = read_react_params(ARGV, ARG.react)
local limits = read_limits(ARGV, ARG.limits)
local lane = load_lane(KEYS)
normalize(lane, limits, now, true)
local effect = lane_react(lane, limits, now, ARGV[ARG.category], opt_number(ARGV[ARG.durationMs]), opt_number(ARGV[ARG.sentAt]), params)
save_lane(lane, now)
return state_reply(lane, { effect, fmt(now) })
