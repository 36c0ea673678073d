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

local function checkAttempt(jobKey, stage, entryId, attempt)
  return attemptRefusal(rcall('HMGET', jobKey, 'status', 'stage', 'entry', 'attempts'), stage, entryId, attempt)
end
