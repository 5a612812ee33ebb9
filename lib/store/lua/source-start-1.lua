--[[
  The day a source's warm-up started: the stored one, else today, stored now.
  sourceStart() of the memory store. The key lives WARM_TTL_MS after its
  last use.

    Input:
      KEYS[1] start day  <prefix>v1:src:{source}

      ARGV[1] today (day number)

    Output:
      start  the day number in force, as text
]]

local start = redis.call('GET', KEYS[1])
if not start then
  start = ARGV[ARG.today]
  redis.call('SET', KEYS[1], start)
end
redis.call('PEXPIRE', KEYS[1], WARM_TTL_MS)
return start
