-- @include fieldsToMap
-- A consumer group of a stream as a table of its XINFO GROUPS fields (name, consumers, pending,
-- last-delivered-id, entries-read, lag), or nil when the stream or the group does not exist.
local function groupInfo(stream, name)
  local ok, groups = pcall(rcall, 'XINFO', 'GROUPS', stream)
  if not ok then return nil end
  for _, group in ipairs(groups) do
    local info = {}
    for j = 1, #group, 2 do info[group[j]] = group[j + 1] end
    if info['name'] == name then return info end
  end
  return nil
end

-- An entry ID's two parts, milliseconds and sequence, as text ('0-0' for nil).
local function entryParts(id)
  return string.match(id or '0-0', '^(%d+)%-(%d+)$')
end

-- Whether the entry ID of parts `am`, `as` comes before that of `bm`, `bs`, both as Redis writes
-- them (no leading zeros): compared as text, digits and length, since tonumber loses precision
-- past 2^53. Callers comparing one ID with many split it once.
local function partsBefore(am, as, bm, bs)
  if am ~= bm then return #am < #bm or (#am == #bm and am < bm) end
  return #as < #bs or (#as == #bs and as < bs)
end

-- Whether entry ID `a` comes before `b`.
local function entryBefore(a, b)
  local am, as = entryParts(a)
  local bm, bs = entryParts(b)
  return partsBefore(am, as, bm, bs)
end

-- Whether the group has been delivered the entry: its last-delivered ID is at or past the entry's.
local function isDelivered(stream, name, entryId)
  local info = groupInfo(stream, name)
  if not info then return false end
  return not entryBefore(info['last-delivered-id'], entryId)
end

-- The group's lag, or when Redis cannot tell it (an entry past the group's last delivered one was
-- deleted: XDEL, or a producer's MAXLEN trim) a bound above it: entries added to the stream less
-- those the group has read, which counts the deleted ones too until the group reads past them.
-- (XLEN, the stream's length, also counts the acknowledged history kept for STREAM_HISTORY.)
local function lagOrBound(stream, info)
  local lag = info['lag']
  if type(lag) == 'number' then return lag end
  local read = info['entries-read']
  if type(read) ~= 'number' then return rcall('XLEN', stream) end
  return math.max(0, fieldsToMap(rcall('XINFO', 'STREAM', stream))['entries-added'] - read)
end
