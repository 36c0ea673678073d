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
    {'entry', lane, entryId, {field, ...}, stage, started at, worker}
                                              the job has no record yet: queued (started at
                                              and worker '') or in its first attempt
    false                                     no such job
]]
local rcall = redis.call
-- @include directJobs
-- @include groupInfo
-- @include recordless

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

local base, jobId, firstStage, queue = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local lane, entryId = queuedEntry(base, jobId)
if lane then
  local found = rcall('XRANGE', base .. firstStage .. ':' .. lane, entryId, entryId)
  if not found[1] then return false end
  local running = recordlessAttempt(base, firstStage, lane, entryId)
  if running and running.jobId == jobId then
    return { 'entry', lane, entryId, found[1][2], firstStage, running.startedAt, running.worker }
  end
  return { 'entry', lane, entryId, found[1][2], firstStage, '', '' }
end

-- A job XADDed by another producer is named after its entry (see directJobs); it is queued
-- while its entry is in its stream and the stage's group has not yet delivered it.
local stage
stage, lane, entryId = directJobLocation(queue, firstStage, jobId)
if not stage then return false end
local stream = base .. stage .. ':' .. lane
local found = rcall('XRANGE', stream, entryId, entryId)
if not found[1] then return false end
if isDelivered(stream, stage, entryId) then return false end
return { 'entry', lane, entryId, found[1][2], stage, '', '' }
