--[[
  Finds jobs the API queued whose stream entry another client deleted before any worker read it
  (see lostJobs), walking the queued index a page at a time, and dead-letters each one found.
  Any worker may run it at any time: a lost job leaves the index in the same step that records it.

  KEYS[1] queued index hash

  ARGV[1] base
  ARGV[2] the queue's first stage (where every job in the index is)
  ARGV[3] HSCAN cursor ('0' to start a walk)
  ARGV[4] index lines to look at in this call (HSCAN's COUNT, a hint)
  ARGV[5] retention of finished records, seconds

  Output: {cursor, lost}: the cursor to go on from ('0' when the walk is done) and the IDs of the
          jobs found lost.
]]
local rcall = redis.call
-- @include nowMs
-- @include lostJobs

local base, stage = ARGV[1], ARGV[2]
local page = rcall('HSCAN', KEYS[1], ARGV[3], 'COUNT', tonumber(ARGV[4]))
local lines = page[2]
local lost = {}
local now
for i = 1, #lines, 2 do
  local jobId = lines[i]
  local gone, lane, entryId = queuedJobLost(base, stage, lines[i + 1])
  if gone and rcall('EXISTS', base .. 'job:' .. jobId) == 1 then
    -- A job leaves the index when its record is written; a line left behind names no lost job.
    rcall('HDEL', KEYS[1], jobId)
  elseif gone then
    now = now or nowMs()
    recordLostJob(base, stage, jobId, lane, entryId, now, tonumber(ARGV[5]))
    lost[#lost + 1] = jobId
  end
end
return { page[1], lost }
