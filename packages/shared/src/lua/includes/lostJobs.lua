-- @include deadLetter
-- @include appendError
-- A job the API queued has no record until a worker starts it (see recordless): its stream entry
-- is its only copy. Another Redis client can delete that entry before any worker reads it (XADD
-- MAXLEN, XTRIM, XDEL: trimming ignores consumer groups), and the job with it. Such a job is not
-- forgotten: it is found by its line in the queued index, which names an entry its stream no
-- longer holds, and dead-lettered with a record that says so. Its input went with its entry, so
-- its record has no `payload`: that is what marks a lost job (every other record has one), which
-- cannot be retried, and whose idempotency key is free for the job submitted again.

-- Whether the job on a queued-index line (`<lane> <entry ID>`) of `stage` (the queue's first) is
-- lost: its entry is gone from the lane's stream, and no worker holds it (a first attempt that
-- runs keeps a copy of its entry in the active index, and finishes or is taken over from it).
-- False for a line that is not an index line.
local function queuedJobLost(base, stage, line)
  local lane, entryId = string.match(line, '^(%S+) (%S+)$')
  if not lane then return false end
  if rcall('XRANGE', base .. stage .. ':' .. lane, entryId, entryId)[1] then return false end
  return rcall('HEXISTS', base .. 'active', stage .. ':' .. lane .. ':' .. entryId) == 0, lane, entryId
end

-- Whether a job's record is a lost job's (see above).
local function isLostRecord(jobKey)
  return rcall('HEXISTS', jobKey, 'payload') == 0
end

-- Writes the record of a lost job (see queuedJobLost), dead-lettered with an ENTRY_LOST error, and
-- drops its queued-index line.
local function recordLostJob(base, stage, jobId, lane, entryId, now, retentionSeconds)
  local jobKey = base .. 'job:' .. jobId
  local createdAt = string.match(entryId, '^(%d+)')
  rcall('HSET', jobKey, 'id', jobId, 'queue', string.match(jobId, '^([^:]+)'), 'stage', stage, 'lane', lane,
    'created_at', createdAt, 'queued_at', createdAt, 'attempts', '0', 'entry', entryId)
  local err = cjson.encode({
    message = 'The job\'s stream entry was deleted before any worker read it (XADD MAXLEN, XTRIM or XDEL by another Redis client), and its input with it. Submit the job again.',
    code = 'ENTRY_LOST', retryable = false, stage = stage, attempt = 0, at = now })
  appendError(jobKey, err)
  rcall('HDEL', base .. 'queued', jobId)
  deadLetter(base, jobKey, jobId, now, err, retentionSeconds)
end
