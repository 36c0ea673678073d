--[[
  Reads a job as one consistent snapshot: its record when it has one, else its queued entry.
  Never returns the stored document bytes.

  KEYS[1] job record
  KEYS[2] queued index hash

  ARGV[1] base
  ARGV[2] job ID
  ARGV[3] first stage of the queue
  ARGV[4] queue name

  Output:
    {'record', {field, value, ...}}           the job has a record
    {'entry', lane, entryId, {field, ...}}    the job is queued and has no record yet
    false                                     no such job
]]
local rcall = redis.call

local fieldNames = rcall('HKEYS', KEYS[1])
if #fieldNames > 0 then
  local wanted = {}
  for _, name in ipairs(fieldNames) do
    if name ~= 'doc' then table.insert(wanted, name) end
  end
  local values = rcall('HMGET', KEYS[1], unpack(wanted))
  local flat = {}
  for i, name in ipairs(wanted) do
    table.insert(flat, name)
    table.insert(flat, values[i])
  end
  return { 'record', flat }
end

local base, jobId, stage, queue = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local function entryOf(lane, entryId)
  local found = rcall('XRANGE', base .. stage .. ':' .. lane, entryId, entryId)
  if found[1] then return { 'entry', lane, entryId, found[1][2] } end
  return false
end

local indexed = rcall('HGET', KEYS[2], jobId)
if indexed then
  local sep = string.find(indexed, ' ', 1, true)
  return entryOf(string.sub(indexed, 1, sep - 1), string.sub(indexed, sep + 1))
end

-- A job XADDed by another producer is named `<queue>:<entry ID>`; it is queued while its
-- entry is in the first stage's stream and the group has not yet delivered it.
if string.sub(jobId, 1, #queue + 1) ~= queue .. ':' then return false end
local entryId = string.match(string.sub(jobId, #queue + 2), '^(%d+%-%d+)$')
if not entryId then return false end
local function after(a, b)
  local am, as = string.match(a, '^(%d+)%-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)%-(%d+)$')
  am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
  return am > bm or (am == bm and as > bs)
end
for _, lane in ipairs({ 'high', 'normal', 'low' }) do
  local found = entryOf(lane, entryId)
  if found then
    local ok, groups = pcall(rcall, 'XINFO', 'GROUPS', base .. stage .. ':' .. lane)
    local delivered = false
    if ok then
      for _, group in ipairs(groups) do
        local info = {}
        for j = 1, #group, 2 do info[group[j]] = group[j + 1] end
        if info['name'] == stage and not after(entryId, info['last-delivered-id']) then delivered = true end
      end
    end
    if not delivered then return found end
  end
end
return false
