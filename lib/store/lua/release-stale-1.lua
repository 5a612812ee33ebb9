--[[
  A node that started again drops the leases of its earlier boots on one
  lane: members that start with the node's prefix but not with this boot's.
  dropEarlierBoots() of lib/core/lease.ts. Plain prefix comparison (no Lua
  patterns): node names are URI-encoded and boot ids are [A-Za-z0-9_-].

    Input:
      KEYS[1] lane lease zset   <prefix>v1:l:{source|provider}

      ARGV[1] node prefix   '<node>/'
      ARGV[2] owner prefix  '<node>/<boot>/'

    Output:
      the number of leases dropped
]]

local node, owner = ARGV[ARG.nodePrefix], ARGV[ARG.ownerPrefix]
local dropped = 0
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(id, 1, #node) == node and string.sub(id, 1, #owner) ~= owner then
    redis.call('ZREM', KEYS[1], id)
    dropped = dropped + 1
  end
end
return dropped
