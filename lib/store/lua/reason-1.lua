--[[
  Remember why a lane's state last changed: the reaction, the reply's
  category, the rule and the reply text (already escaped and cut by the
  caller), at the store's time: reason() of the memory store. The hash
  expires after two idle days, like the lane.

    Input:
      KEYS[1] reason hash  <prefix>v1:r:{source|provider}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME
      ARGV[2] effect
      ARGV[3] category
      ARGV[4] rule ('' = none)
      ARGV[5] reply text

    Output:
      at  epoch ms it was recorded at
]]
--- @include "util"

local now = clock(ARGV[ARG.clock])
redis.call('HSET', KEYS[1], 'at', fmt(now), 'effect', ARGV[ARG.effect], 'category', ARGV[ARG.category], 'rule', ARGV[ARG.rule], 'reply', ARGV[ARG.reply])
redis.call('PEXPIRE', KEYS[1], 2 * DAY_MS)
return fmt(now)
