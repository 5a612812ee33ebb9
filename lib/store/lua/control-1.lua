--[[
  Operator controls (lib/core/control.ts), one HASH for the installation:
  field = the target's key (targetKey()), value = JSON
  { target, at, until, reason, who } with target as JSON text and times as
  exact text (epoch ms; until 0 = until resumed). Ended controls are removed
  whenever the hash is read or written, so every node sees the same list.

    Input:
      KEYS[1] controls hash  <prefix>v1:ctl

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME
      ARGV[2] list | set | clear
      ARGV[3] set, clear: the target's key
      ARGV[4] set: the target as JSON text
      ARGV[5] set: duration ms (0 = until resumed)
      ARGV[6] set: reason
      ARGV[7] set: who

    Output:
      list:  { now, value_1, value_2, ... }  the controls in force
      set:   { now, value }                  the stored control
      clear: { now, value }                  the removed control ('' when none was in force)
]]
--- @include "util"

local now = clock(ARGV[ARG.clock])
local key = KEYS[1]

local function in_force(value)
  local u = tonumber(cjson.decode(value)['until'])
  return u == 0 or u > now
end

local flat = redis.call('HGETALL', key)
local live = {}
for i = 1, #flat, 2 do
  if in_force(flat[i + 1]) then live[flat[i]] = flat[i + 1] else redis.call('HDEL', key, flat[i]) end
end

local op = ARGV[ARG.op]
if op == 'list' then
  local reply = { fmt(now) }
  for _, value in pairs(live) do reply[#reply + 1] = value end
  return reply
elseif op == 'set' then
  local forMs = tonumber(ARGV[ARG.forMs])
  local untilT = 0
  if forMs > 0 then untilT = now + forMs end
  local value = cjson.encode({ target = ARGV[ARG.target], at = fmt(now), ['until'] = fmt(untilT), reason = ARGV[ARG.reason], who = ARGV[ARG.who] })
  redis.call('HSET', key, ARGV[ARG.targetKey], value)
  return { fmt(now), value }
elseif op == 'clear' then
  local value = live[ARGV[ARG.targetKey]] or ''
  redis.call('HDEL', key, ARGV[ARG.targetKey])
  return { fmt(now), value }
end
return redis.error_reply('paceline: unknown control operation ' .. tostring(op))
