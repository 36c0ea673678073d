--[[
  Trims a stream's history without ever removing work that is not done. Unlike MAXLEN, which
  counts entries and ignores consumer groups, this removes only entries that every group has
  both delivered and acknowledged, and only those older than the history window.

  For each group the bound is the lower of its oldest pending entry and its last-delivered ID
  (everything after that is undelivered). The stream is trimmed (XTRIM MINID) below the lowest
  bound of all groups and below `now - history`. A stream with no group is not trimmed, unless
  `mode` is 'age' (the dead stream, which no group reads).

  KEYS[1] stream

  ARGV[1] history to keep (ms)
  ARGV[2] mode: 'consumed' (default) or 'age'

  Output: the number of entries removed.
]]
local rcall = redis.call
-- @include nowMs

local function lower(a, b)
  local am, as = string.match(a, '^(%d+)%-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)%-(%d+)$')
  am, bm = tonumber(am), tonumber(bm)
  if am ~= bm then return am < bm and a or b end
  return tonumber(as) <= tonumber(bs) and a or b
end

if rcall('EXISTS', KEYS[1]) == 0 then return 0 end
local bound = (nowMs() - tonumber(ARGV[1])) .. '-0'
if ARGV[2] ~= 'age' then
  local groups = rcall('XINFO', 'GROUPS', KEYS[1])
  if #groups == 0 then return 0 end
  for _, group in ipairs(groups) do
    local info = {}
    for j = 1, #group, 2 do info[group[j]] = group[j + 1] end
    bound = lower(bound, info['last-delivered-id'])
    if info['pending'] > 0 then
      local summary = rcall('XPENDING', KEYS[1], info['name'])
      bound = lower(bound, summary[2])
    end
  end
end
return rcall('XTRIM', KEYS[1], 'MINID', bound)
