-- @include lostJobs
-- @include deadLetter
-- @include appendError
-- @include groupInfo
-- @include recordless
-- A worker takes an entry only in its take script, which drops the job's queued-index line in the
-- same step (see startJob). A job whose line is still there although the stage's group has read
-- past its entry, with no consumer holding the entry (not in the PEL) and no worker running it (no
-- active-index line), was taken by a Redis client that is not a Conveyor worker: read in the group
-- and acknowledged (XREADGROUP and XACK, as a consumer written after the Redis Streams examples
-- would), or skipped (XGROUP SETID). No worker will ever read that entry, and the workers' trimming
-- removes it once it is older than STREAM_HISTORY. Such a job is dead-lettered, with its input,
-- so that it can be seen and retried. (An entry a foreign consumer reads and keeps pending is
-- not one of these: a worker takes it over once its lease lapses.)

local TAKEN_OUTSIDE = 'The job\'s stream entry was taken from the stage\'s consumer group by a Redis client that is not a Conveyor worker (read and acknowledged, XREADGROUP and XACK, or skipped, XGROUP SETID), so no worker would ever run it. Retry it to run it here; a program of your own that reads Conveyor\'s streams needs a consumer group of its own.'

-- The last-delivered ID of each stream's group, read once per stream per call (false: no group).
local deliveredUpTo = {}

-- Whether the job waiting at `entryId` of `stream` (its group `group`, its active-index field
-- `activeField`) was taken outside Conveyor (see above).
local function takenOutside(base, stream, group, activeField, entryId)
  local last = deliveredUpTo[stream]
  if last == nil then
    local info = groupInfo(stream, group)
    last = info and info['last-delivered-id'] or false
    deliveredUpTo[stream] = last
  end
  if not last or entryBefore(last, entryId) then return false end
  if isPending(stream, group, entryId) then return false end
  return rcall('HEXISTS', base .. 'active', activeField) == 0
end

-- The TAKEN_OUTSIDE error of a job waiting in `stage`.
local function takenOutsideError(stage, attempts, now)
  return cjson.encode({ message = TAKEN_OUTSIDE, code = 'TAKEN_OUTSIDE', retryable = true, stage = stage, attempt = attempts, at = now })
end

-- Dead-letters a job the API queued without a record (a line of the first stage) whose entry was
-- taken outside: its record is written from the entry, input and options, as a first attempt's
-- would be, with no attempt made. Returns whether it did (false when the entry is not the job's).
-- A job leaves the index when its record is written: a line left behind is dropped.
local function deadLetterTakenRecordless(base, stage, stream, jobId, lane, entryId, now, retentionSeconds)
  local jobKey = base .. 'job:' .. jobId
  if rcall('EXISTS', jobKey) == 1 then
    rcall('HDEL', base .. 'queued', jobId)
    return false
  end
  local found = rcall('XRANGE', stream, entryId, entryId)[1]
  if not found then return false end
  local map = fieldsToMap(found[2])
  if map['job'] ~= jobId or not map['payload'] then return false end
  local createdAt = string.match(entryId, '^(%d+)')
  local err = takenOutsideError(stage, 0, now)
  rcall('HSET', jobKey, 'id', jobId, 'queue', string.match(jobId, '^([^:]+)'), 'stage', stage, 'lane', lane,
    'payload', map['payload'], 'created_at', createdAt, 'queued_at', createdAt, 'attempts', '0', 'entry', entryId,
    'errors', '[' .. err .. ']')
  local maxAttempts, timeoutMs, backoff = entryOptions(map)
  if maxAttempts then rcall('HSET', jobKey, 'max_attempts', maxAttempts) end
  if timeoutMs then rcall('HSET', jobKey, 'timeout_ms', timeoutMs) end
  if backoff then rcall('HSET', jobKey, 'backoff', backoff) end
  rcall('HDEL', base .. 'queued', jobId)
  deadLetter(base, jobKey, jobId, now, err, retentionSeconds)
  return true
end

-- Dead-letters a job with a record waiting in `stage` whose entry was taken outside. A line that
-- no longer says where the job waits is dropped; a job cancelled while that entry waited kept its
-- record for the worker that reads past the entry, which none will: it expires from now. Returns
-- whether it dead-lettered the job.
local function deadLetterTakenRecord(base, stage, jobId, lane, entryId, now, retentionSeconds)
  local jobKey = base .. 'job:' .. jobId
  local r = rcall('HMGET', jobKey, 'status', 'stage', 'lane', 'entry', 'attempts')
  rcall('HDEL', base .. 'queued', jobId)
  if r[2] ~= stage or r[3] ~= lane or r[4] ~= entryId then return false end
  if r[1] == 'cancelled' then rcall('EXPIRE', jobKey, retentionSeconds) end
  if r[1] ~= 'queued' then return false end
  local err = takenOutsideError(stage, tonumber(r[5] or '0'), now)
  appendError(jobKey, err)
  deadLetter(base, jobKey, jobId, now, err, retentionSeconds)
  return true
end
