--[[
  lib/core/provider-state.ts in Lua: provider-wide incidents. One HASH per
  provider, KEYS[1] = <prefix>v1:p:{provider}:
    pu  pauseUntil, epoch ms    pr  probing (0 | 1)    pa  probeAt, epoch ms
    dc  declaredAt (the last incident), epoch ms
    t:<source>  time of that source's last throttle reaction, epoch ms
  Needs the include "util".
]]

-- IncidentParams from ARGV[i..i+ARG_SIZE.incident-1], fields at the
-- INCIDENT_ARGS offsets (lib/store/script-args.ts), all numbers. Returns the
-- params and the next ARGV index.
local function read_incident_params(argv, i)
  local p = {}
  for field, at in pairs(INCIDENT_ARGS) do p[field] = tonumber(argv[i + at]) end
  return p, i + ARG_SIZE.incident
end

local function load_provider(key)
  local flat = redis.call('HGETALL', key)
  local s = { key = key, exists = #flat > 0, throttled = {}, pauseUntil = 0, probing = 0, probeAt = 0, declaredAt = 0 }
  for i = 1, #flat, 2 do
    local field, value = flat[i], tonumber(flat[i + 1])
    if field == 'pu' then s.pauseUntil = value
    elseif field == 'pr' then s.probing = value
    elseif field == 'pa' then s.probeAt = value
    elseif field == 'dc' then s.declaredAt = value
    elseif string.sub(field, 1, 2) == 't:' then s.throttled[string.sub(field, 3)] = value end
  end
  return s
end

-- Rewrites the hash (throttled entries are replaced as a whole); idle TTL as lanes.
local function save_provider(s, now)
  local args = { 'pu', fmt(s.pauseUntil), 'pr', fmt(s.probing), 'pa', fmt(s.probeAt), 'dc', fmt(s.declaredAt) }
  for name, at in pairs(s.throttled) do
    args[#args + 1] = 't:' .. name
    args[#args + 1] = fmt(at)
  end
  redis.call('DEL', s.key)
  redis.call('HSET', s.key, unpack(args))
  local ttl = math.max(IDLE_TTL_MS, math.max(s.pauseUntil, s.probeAt) - now)
  redis.call('PEXPIRE', s.key, math.ceil(ttl))
end

-- recordThrottle(): returns incident (boolean) and the explained sources
-- (unsorted: TypeScript sorts them, as Lua's sort follows the server's locale).
local function provider_throttle(s, source, sources, now, p)
  local throttled, count = {}, 0
  for name, at in pairs(s.throttled) do
    if now - at < p.windowMs then throttled[name] = at end
  end
  throttled[source] = now
  local names = {}
  for name in pairs(throttled) do
    count = count + 1
    names[count] = name
  end
  s.throttled = throttled
  local cooling = s.declaredAt ~= 0 and now - s.declaredAt < INCIDENT_COOLDOWN_WINDOWS * p.windowMs
  local declared = (not cooling) and count >= p.minSources and count >= math.ceil(p.share * sources)
  if not declared and s.probing == 0 then return false, {} end
  if declared then s.declaredAt = now end
  s.pauseUntil = now + p.pauseMs
  s.probing = 1
  s.probeAt = s.pauseUntil
  return true, names
end

-- takeProbe(): returns ok (boolean) and at.
local function provider_probe(s, now, p)
  if s.probing ~= 1 or s.pauseUntil > now then return s.probing ~= 1, s.pauseUntil end
  if s.probeAt > now then return false, s.probeAt end
  s.probeAt = now + p.probeIntervalMs
  return true, now
end

-- providerDelivered(): a delivery succeeded, the incident is over.
local function provider_delivered(s)
  if s.probing ~= 1 then return end
  s.probing = 0
  s.probeAt = 0
  s.pauseUntil = 0
  s.throttled = {}
end

-- A ProviderState as reply items: pauseUntil, probing, probeAt, declaredAt, then source and time pairs.
local function provider_reply(s, reply)
  reply[#reply + 1] = fmt(s.pauseUntil)
  reply[#reply + 1] = fmt(s.probing)
  reply[#reply + 1] = fmt(s.probeAt)
  reply[#reply + 1] = fmt(s.declaredAt)
  for name, at in pairs(s.throttled) do
    reply[#reply + 1] = name
    reply[#reply + 1] = fmt(at)
  end
  return reply
end
