--[[
  The stored state of one lane as it is (not normalized), for choosing a
  source; a missing lane reads as EMPTY (emptyLane()). Read-only.

    Input:
      KEYS[1] lane state hash   <prefix>v1:s:{source|provider}
      KEYS[2] lane lease zset   <prefix>v1:l:{source|provider}

      ARGV[1] clock override, epoch ms, tests only; '' = Redis TIME

    Output:
      { now, field_1, ..., field_n, lease_id_1, expiry_1, ... }
        now      the script's clock, epoch ms, as exact text
        field_i  the LaneState properties in FIELD_NAMES order, as text
        lease_id_j, expiry_j  the leases by expiry (epoch ms as text)
]]
--- @include "util"
--- @include "lane"

local now = clock(ARGV[ARG.clock])
return stored_state_reply(KEYS, { fmt(now) })
