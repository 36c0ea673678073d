-- Jobs XADDed straight into a stage stream by another producer are named after their entry.
-- Entry IDs are unique per stream only, and every stage and lane is its own stream, so the name
-- says which stream, except in the common case:
--   <queue>:<entry ID>                   the first stage's normal lane (the seeds' plain XADD)
--   <queue>:<lane>:<entry ID>            another lane of the first stage
--   <queue>:<stage>:<lane>:<entry ID>    a later stage
local function directJobId(queue, firstStage, stage, lane, entryId)
  if stage ~= firstStage then return queue .. ':' .. stage .. ':' .. lane .. ':' .. entryId end
  if lane ~= 'normal' then return queue .. ':' .. lane .. ':' .. entryId end
  return queue .. ':' .. entryId
end

-- Whether Redis takes `id` (digits, '-', digits) as an entry ID: each part at most 2^64 - 1.
-- XRANGE answers any other with an error, which would fail the whole script.
local function isEntryId(id)
  for part in string.gmatch(id, '%d+') do
    local digits = string.gsub(part, '^0+', '')
    if #digits > 20 or (#digits == 20 and digits > '18446744073709551615') then return false end
  end
  return true
end

-- The stream a direct job's name points at: stage, lane, entry ID; nil when it is not such a name.
local function directJobLocation(queue, firstStage, jobId)
  if string.sub(jobId, 1, #queue + 1) ~= queue .. ':' then return nil end
  local rest = string.sub(jobId, #queue + 2)
  local stage, lane, entryId = firstStage, 'normal', string.match(rest, '^(%d+%-%d+)$')
  if not entryId then
    lane, entryId = string.match(rest, '^(%a+):(%d+%-%d+)$')
    if lane ~= 'high' and lane ~= 'low' then
      stage, lane, entryId = string.match(rest, '^([%w_.-]+):(%a+):(%d+%-%d+)$')
      if lane ~= 'high' and lane ~= 'normal' and lane ~= 'low' then return nil end
    end
  end
  if not isEntryId(entryId) then return nil end
  return stage, lane, entryId
end

-- The job an entry's reserved `job` field names, or nil. Conveyor writes it with an ID of the
-- stream's own queue (`<queue>:<id>`), with no spaces or control characters: job lines and the
-- API's routes rely on that. Any other value is another producer's misuse of the field, and the
-- entry is then that producer's plain entry, named after its entry ID. (namedJobId in job-id.ts
-- applies the same rule.)
local function namedJobId(queue, value)
  if not value or #value <= #queue + 1 or string.sub(value, 1, #queue + 1) ~= queue .. ':' then return nil end
  if string.find(value, '[%c%s]') then return nil end
  return value
end
