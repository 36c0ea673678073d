--[[
  Trims a stream's history without ever removing work that is not done. Unlike MAXLEN, which
  counts entries and ignores consumer groups, this removes only entries that every group has
  both delivered and acknowledged, and only those older than the history window.

  For each group the bound is the lower of its oldest pending entry and its last-delivered ID
  (everything after that is undelivered). The stream is trimmed (XTRIM MINID) below the lowest
  bound of all groups and below `now - history`. A stream with no group is not trimmed, unless
  `mode` is 'age' (the dead stream, which no group reads).

  An entry's ID is its time only while IDs follow the clock. A producer that gave an explicit ID
  ahead of it (XADD <stream> 4102444800000-0) has every later entry numbered after that one, so
  no entry would ever be older than the history window and the stream would grow for good. A
  stream whose groups have been delivered an ID more than AHEAD_MS ahead of the clock is trimmed
  below its groups' bound only: it keeps no history, only what is not yet done.

  Another program's group on the stream (one made to watch the entries) holds trimming back like
  any other: when one is what keeps entries older than the history window, it is named, so that
  the worker can say so.

  KEYS[1] stream

  ARGV[1] history to keep (ms)
  ARGV[2] mode: 'consumed' (default) or 'age'
  ARGV[3] the stream's own group (Conveyor's; '' when not given)

  Output: { entries removed, how far the stream's IDs are ahead of the clock (ms; 0 when within
          AHEAD_MS), the group other than ARGV[3] that alone kept older entries ('' for none),
          and the ID of the oldest entry it holds back ('' for none) }.
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

-- Whether entry ID `a` comes strictly before `b`.
local function before(a, b)
  return a ~= b and lower(a, b) == a
end

local AHEAD_MS = 60000

if rcall('EXISTS', KEYS[1]) == 0 then return { 0, 0, '', '' } end
local now = nowMs()
-- A history longer than the clock's time since 1970 (STREAM_HISTORY=99999d, "keep for ever") keeps
-- everything: below 0 the bound was no stream ID, and the script failed.
local cutoff = now - tonumber(ARGV[1])
local bound = (cutoff > 0 and string.format('%.0f', cutoff) or '0') .. '-0'
if ARGV[2] == 'age' then return { rcall('XTRIM', KEYS[1], 'MINID', bound), 0, '', '' } end

local groups = rcall('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return { 0, 0, '', '' } end
-- Each group's bound: the lower of its last-delivered ID and its oldest pending entry.
local bounds = {}
local groupBound, lowest
local latestMs = 0
for _, group in ipairs(groups) do
  local info = {}
  for j = 1, #group, 2 do info[group[j]] = group[j + 1] end
  local delivered = info['last-delivered-id']
  local own = delivered
  latestMs = math.max(latestMs, tonumber(string.match(delivered, '^(%d+)')))
  if info['pending'] > 0 then
    local summary = rcall('XPENDING', KEYS[1], info['name'])
    own = lower(own, summary[2])
  end
  bounds[#bounds + 1] = { name = info['name'], bound = own }
  if not groupBound or before(own, groupBound) then lowest = info['name'] end
  groupBound = groupBound and lower(groupBound, own) or own
end
local ahead = latestMs - now
local trimBound = ahead > AHEAD_MS and groupBound or lower(bound, groupBound)

-- Another program's group that alone keeps entries the other groups and the history window let
-- go: the trim without it would go further, and the stream has entries below that.
local heldBy, heldFrom = '', ''
if ARGV[3] ~= '' and lowest ~= ARGV[3] then
  local without = ahead > AHEAD_MS and nil or bound
  for _, each in ipairs(bounds) do
    if each.name ~= lowest then without = without and lower(without, each.bound) or each.bound end
  end
  if without and before(trimBound, without) then
    local first = rcall('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
    if first and before(first[1], without) then heldBy, heldFrom = lowest, groupBound end
  end
end
return { rcall('XTRIM', KEYS[1], 'MINID', trimBound), ahead > AHEAD_MS and string.format('%.0f', ahead) or 0, heldBy, heldFrom }
