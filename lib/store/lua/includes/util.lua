--[[
  Small helpers every script uses: exact number text, optional ARGV numbers
  and the clock.
]]

-- Exact text of a double: 17 significant digits read back to the same double
-- (Redis would truncate a Lua number in a reply to an integer).
local function fmt(x)
  return string.format('%.17g', x)
end

-- An ARGV number; nil for '' (absent).
local function opt_number(arg)
  if arg == nil or arg == '' then return nil end
  return tonumber(arg)
end

-- Epoch ms: the test clock override when given, else Redis's own clock, so
-- every host shares one clock (whole ms, like Date.now()).
local function clock(override)
  local fixed = opt_number(override)
  if fixed ~= nil then return fixed end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
