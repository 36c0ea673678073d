-- @include recordless
-- Fencing: a worker may finish only the attempt it was given. `r` is the record's
-- status, stage, entry and attempts (HMGET in that order, possibly with more fields after).
-- Returns nil when the record shows that attempt still running, else the refusal code:
-- -1 the record is gone, -2 another attempt, stage or entry is current (the lease was lost and
-- the job taken over, or the job was cancelled).
local function attemptRefusal(r, stage, entryId, attempt)
  if not r[1] then return -1 end
  if r[1] ~= 'active' or r[2] ~= stage or r[3] ~= entryId or r[4] ~= attempt then return -2 end
  return nil
end

-- The same check from the record itself. With `base` and `lane`, a job without a record passes
-- when its active-index line shows this attempt running (see recordless); with `materializeIt`
-- its record is then written, for a caller that goes on to change it.
local function checkAttempt(jobKey, stage, entryId, attempt, base, lane, materializeIt)
  local r = rcall('HMGET', jobKey, 'status', 'stage', 'entry', 'attempts')
  if not r[1] and base then
    local jobId = string.sub(jobKey, #base + 5)
    local running = recordlessAttempt(base, stage, lane, entryId)
    if running and running.jobId == jobId then
      if tostring(attempt) ~= '1' then return -2 end
      if materializeIt then materialize(base, stage, lane, entryId, running) end
      return nil
    end
    if queuedEntry(base, jobId) then return -2 end
  end
  return attemptRefusal(r, stage, entryId, attempt)
end
