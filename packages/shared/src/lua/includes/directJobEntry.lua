-- @include directJobs
-- @include groupInfo

-- The entry a direct job's name points at (see directJobs): stage, lane, entry ID and the entry's
-- fields; nil when the name points at none. The stream must be a stage's (a stream the group named
-- after that stage reads: the name's stage part could name another key of the queue, such as an
-- idempotency key), and an entry whose `job` field names its job is that job, not this name.
local function directJobEntry(base, queue, firstStage, jobId)
  local stage, lane, entryId = directJobLocation(queue, firstStage, jobId)
  if not stage then return nil end
  local stream = base .. stage .. ':' .. lane
  if rcall('TYPE', stream)['ok'] ~= 'stream' or not groupInfo(stream, stage) then return nil end
  local found = rcall('XRANGE', stream, entryId, entryId)[1]
  if not found then return nil end
  local fields = found[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'job' and namedJobId(queue, fields[i + 1]) then return nil end
  end
  return stage, lane, entryId, fields
end
