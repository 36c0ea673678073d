--[[
  Finds jobs whose stream entry another client deleted before any worker read it (see lostJobs),
  walking the queued index a page at a time: a job with a record is queued again on a new entry,
  a job the API queued without one is dead-lettered (its input went with its entry). Any worker
  may run it at any time: each job is set right in the same step that finds it.

  KEYS[1] queued index hash

  ARGV[1] base
  ARGV[2] the queue's first stage (where every job without a record is)
  ARGV[3] HSCAN cursor ('0' to start a walk)
  ARGV[4] index lines to look at in this call (HSCAN's COUNT, a hint)
  ARGV[5] retention of finished records, seconds

  Output: {cursor, lost, requeued}: the cursor to go on from ('0' when the walk is done), the IDs
          of the jobs dead-lettered, and those queued again.
]]
local rcall = redis.call
-- @include nowMs
-- @include lostJobs

local base, firstStage = ARGV[1], ARGV[2]
local page = rcall('HSCAN', KEYS[1], ARGV[3], 'COUNT', tonumber(ARGV[4]))
local lines = page[2]
local lost, requeued = {}, {}
local now = nowMs()
for i = 1, #lines, 2 do
  local jobId = lines[i]
  local lane, entryId, stage = string.match(lines[i + 1], '^(%S+) (%S+) ?(%S*)$')
  if not lane or not entryMayBeGone(base .. (stage ~= '' and stage or firstStage) .. ':' .. lane, entryId) then
    -- not a line Conveyor writes, or its entry is still there
  elseif stage ~= '' then
    if requeueLostEntry(base, jobId, stage, lane, entryId, now, tonumber(ARGV[5])) then requeued[#requeued + 1] = jobId end
  elseif queuedJobLost(base, firstStage, lane, entryId) then
    if rcall('EXISTS', base .. 'job:' .. jobId) == 1 then
      -- A job leaves the index when its record is written; a line left behind names no lost job.
      rcall('HDEL', KEYS[1], jobId)
    else
      recordLostJob(base, firstStage, jobId, lane, entryId, now, tonumber(ARGV[5]))
      lost[#lost + 1] = jobId
    end
  end
end
return { page[1], lost, requeued }
