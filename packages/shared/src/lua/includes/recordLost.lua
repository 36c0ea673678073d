-- @include appendError
-- @include deadLetter
-- A job whose record another client deleted (DEL of its job key) while it waited on an entry that
-- holds only its ID, or while an attempt of it ran: its input went with the record, so it cannot
-- run. Dead-lettered RECORD_LOST with a record that says so, as the entry is met: read by a take,
-- taken over, or its attempt's outcome refused, or when it comes due (a delayed job: its stage,
-- lane and entry are not known then, '', and left out). The caller acks the entry.
local function deadLetterRecordLost(base, jobKey, jobId, stage, lane, entryId, now, retentionSeconds)
  rcall('HSET', jobKey, 'id', jobId, 'queue', string.match(jobId, '^([^:]+)'), 'attempts', '0', 'updated_at', now)
  if stage ~= '' then rcall('HSET', jobKey, 'stage', stage, 'lane', lane, 'entry', entryId) end
  local lost = cjson.encode({
    message = "The job's record is gone, and its input with it, so it cannot run: another Redis client deleted it while the job waited or ran, or added an entry naming in its reserved `job` field a job that never existed. Submit it again.",
    code = 'RECORD_LOST', retryable = false, stage = stage, at = now })
  appendError(jobKey, lost)
  deadLetter(base, jobKey, jobId, now, lost, retentionSeconds)
end
