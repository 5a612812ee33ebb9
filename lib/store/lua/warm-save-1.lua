--[[
  Save a lane's warm-up record unless a record evaluated as late or later is
  stored; return the record in force. saveWarmRecord() of the memory store.
  The record lives WARM_TTL_MS after its last save.

    Input:
      KEYS[1] warm-up record hash  <prefix>v1:w:{source|provider}

      ARGV[1] evaluated (day number) of the new record; 'force' stores it
              whatever is stored (an operator's paceline warmup)
      ARGV[2..] the new record as field, value pairs (WARM_FIELDS)

    Output:
      { saved, field_1, value_1, ... }
        saved  1 when the new record was stored, 0 when the stored one stays
        then the record in force as field, value pairs
]]
--- @include "util"

local stored = redis.call('HGET', KEYS[1], 'evaluated')
if stored and ARGV[ARG.evaluated] ~= 'force' and tonumber(stored) >= tonumber(ARGV[ARG.evaluated]) then
  local reply = { 0 }
  local flat = redis.call('HGETALL', KEYS[1])
  for i = 1, #flat do reply[#reply + 1] = flat[i] end
  return reply
end
local pairs_ = {}
for i = ARG.record, #ARGV do pairs_[#pairs_ + 1] = ARGV[i] end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(pairs_))
redis.call('PEXPIRE', KEYS[1], WARM_TTL_MS)
local reply = { 1 }
for i = 1, #pairs_ do reply[#reply + 1] = pairs_[i] end
return reply
