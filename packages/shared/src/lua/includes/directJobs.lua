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

-- The stream a direct job's name points at: stage, lane, entry ID; nil when it is not such a name.
local function directJobLocation(queue, firstStage, jobId)
  if string.sub(jobId, 1, #queue + 1) ~= queue .. ':' then return nil end
  local rest = string.sub(jobId, #queue + 2)
  local entryId = string.match(rest, '^(%d+%-%d+)$')
  if entryId then return firstStage, 'normal', entryId end
  local lane, laneEntry = string.match(rest, '^(%a+):(%d+%-%d+)$')
  if lane == 'high' or lane == 'low' then return firstStage, lane, laneEntry end
  local stage, stageLane, stageEntry = string.match(rest, '^([%w_.-]+):(%a+):(%d+%-%d+)$')
  if stage and (stageLane == 'high' or stageLane == 'normal' or stageLane == 'low') then return stage, stageLane, stageEntry end
  return nil
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
