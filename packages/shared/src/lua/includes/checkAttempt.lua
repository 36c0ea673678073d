-- Fencing: a worker may finish only the attempt it was given. Returns nil when the record
-- shows that attempt still running, else the refusal code: -1 the record is gone,
-- -2 another attempt, stage or entry is current (the lease was lost and the job taken over,
-- or the job was cancelled).
local function checkAttempt(jobKey, stage, entryId, attempt)
  local r = rcall('HMGET', jobKey, 'status', 'stage', 'entry', 'attempts')
  if not r[1] then return -1 end
  if r[1] ~= 'active' or r[2] ~= stage or r[3] ~= entryId or r[4] ~= attempt then return -2 end
  return nil
end
