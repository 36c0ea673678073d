--[[
  Finds jobs whose stream entry another client deleted before any worker read it (see lostJobs),
  walking the queued index a page at a time: a job with a record is queued again on a new entry,
  a job the API queued without one is dead-lettered (its input went with its entry). Also finds
  jobs whose entry is still there but was taken from the stage's group by a client that is not a
  Conveyor worker (see takenOutside): they are dead-lettered with their input, to be retried. Any
  worker may run it at any time: each job is set right in the same step that finds it.

  An entry a call must read to tell (see entryState) comes with its fields; past READ_BUDGET bytes
  of them the call stops, and the next goes on from the same page at the first job this one did
  not look at, so a page of large entries is not read in one step. That job is named, not counted
  to: the lines this call removed, and any another client adds or removes meanwhile, change the
  page. If it has left the index, the next call looks at the whole page again (looking twice at a
  line changes nothing).

  KEYS[1] queued index hash

  ARGV[1] base
  ARGV[2] the queue's first stage (where every job without a record is)
  ARGV[3] HSCAN cursor ('0' to start a walk)
  ARGV[4] index lines to look at in this call (HSCAN's COUNT, a hint)
  ARGV[5] retention of finished records, seconds
  ARGV[6] the job of the page to go on from, named by a call that stopped early ('' for the whole page)
  ARGV[7] attempts a job has when neither it nor its queue sets max_attempts

  A first attempt whose entry is gone along with its group's PEL (the stream deleted whole), and
  whose worker died, is one no takeover can meet: its attempt fails here as a takeover would fail
  it (see failLostEntry), and the job is retried or dead-lettered.

  Output: {cursor, lost, requeued, resume, failed, outside}: the cursor to go on from ('0' when
          the walk is done), the IDs of the jobs dead-lettered and of those queued again, the job
          of the page at `cursor` to go on from ('' unless this call stopped early; then `cursor`
          is its own), the IDs of the jobs whose orphaned attempt failed, and those of the jobs
          taken outside Conveyor and dead-lettered.
]]
local rcall = redis.call
-- @include nowMs
-- @include lostJobs
-- @include failLostEntry
-- @include takenOutside

local READ_BUDGET = 8 * 1024 * 1024
local base, firstStage, retention = ARGV[1], ARGV[2], tonumber(ARGV[5])
local page = rcall('HSCAN', KEYS[1], ARGV[3], 'COUNT', tonumber(ARGV[4]))
local lines = page[2]
local lost, requeued, failed, outside = {}, {}, {}, {}
local failCtx = { base = base, stage = firstStage, activeKey = base .. 'active', defaultMaxAttempts = tonumber(ARGV[7]), retentionSeconds = retention }
local now = nowMs()
local read = 0
local from = 1
if ARGV[6] ~= '' then
  for i = 1, #lines, 2 do
    if lines[i] == ARGV[6] then
      from = i
      break
    end
  end
end
for i = from, #lines, 2 do
  if read > READ_BUDGET then return { ARGV[3], lost, requeued, lines[i], failed, outside } end
  local jobId = lines[i]
  local lane, entryId, stage = string.match(lines[i + 1], '^(%S+) (%S+) ?(%S*)$')
  local state = 'there'
  local waitsIn, stream
  if lane then
    waitsIn = stage ~= '' and stage or firstStage
    stream = base .. waitsIn .. ':' .. lane
    state = entryState(stream, entryId)
    if state == 'unknown' then
      local found = rcall('XRANGE', stream, entryId, entryId)[1]
      state = found and 'there' or 'gone'
      if found then
        for _, value in ipairs(found[2]) do read = read + #value end
      end
    end
  end
  if not lane then
    -- not a line Conveyor writes
  elseif state == 'there' then
    if takenOutside(base, stream, waitsIn, waitsIn .. ':' .. lane .. ':' .. entryId, entryId) then
      local deadLettered
      if stage ~= '' then
        deadLettered = deadLetterTakenRecord(base, stage, jobId, lane, entryId, now, retention)
      else
        deadLettered = deadLetterTakenRecordless(base, firstStage, stream, jobId, lane, entryId, now, retention)
      end
      if deadLettered then outside[#outside + 1] = jobId end
    end
  elseif stage ~= '' then
    if requeueLostEntry(base, jobId, stage, lane, entryId, now, retention) then requeued[#requeued + 1] = jobId end
  elseif queuedJobLost(base, firstStage, lane, entryId, true) then
    if rcall('EXISTS', base .. 'job:' .. jobId) == 1 then
      -- A job leaves the index when its record is written; a line left behind names no lost job.
      rcall('HDEL', KEYS[1], jobId)
    else
      recordLostJob(base, firstStage, jobId, lane, entryId, now, retention)
      lost[#lost + 1] = jobId
    end
  elseif orphanedAttempt(base, firstStage, lane, entryId, now) then
    failLostEntry(failCtx, lane, entryId, now)
    failed[#failed + 1] = jobId
  end
end
return { page[1], lost, requeued, '', failed, outside }
