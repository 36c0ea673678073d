-- @include deadLetter
-- @include publishEvent
-- @include waitingEntry
-- @include groupInfo
-- @include recordless
-- Another Redis client can delete the stream entry of a job before any worker reads it (XADD
-- MAXLEN, XTRIM, XDEL: trimming ignores consumer groups). Every job whose entry waits has a line
-- in the queued index (see waitingEntry), which workers walk to find such jobs (findLostJobs):
--   * a job with a record loses nothing: it is queued again from its record, on a new entry;
--   * a job the API queued has no record until a worker starts it (see recordless): its entry was
--     its only copy. It is dead-lettered with a record that says so (ENTRY_LOST). Its input went
--     with its entry, so its record has no `payload`: that is what marks a lost job (every other
--     record has one), which cannot be retried, and whose idempotency key is free for the job
--     submitted again.

-- What a walk can tell of an entry of `stream` without reading it (XINFO STREAM, once per stream
-- per call): 'gone' when the stream is empty or missing, or the entry comes before its first
-- entry (trimming, by anyone, removes from the head) or after the last ID it generated (the
-- stream was replaced: deleted and made again, or restored from an older copy); 'unknown' when it
-- is not after the largest ID XDEL removed (Redis 7.0's max-deleted-entry-id; trimming does not
-- move it); else 'there'. So only an entry in reach of an XDEL is read (XRANGE, with its fields:
-- a long walk of a queue whose entries are large reads none of them in the usual case).
local streamBounds = {}
local function entryState(stream, entryId)
  local b = streamBounds[stream]
  if not b then
    local ok, reply = pcall(rcall, 'XINFO', 'STREAM', stream)
    local info = ok and fieldsToMap(reply) or {}
    b = { empty = (info['length'] or 0) == 0 }
    b.fm, b.fs = entryParts(info['recorded-first-entry-id'])
    b.lm, b.ls = entryParts(info['last-generated-id'])
    b.dm, b.ds = entryParts(info['max-deleted-entry-id'])
    streamBounds[stream] = b
  end
  if b.empty then return 'gone' end
  local em, es = entryParts(entryId)
  if partsBefore(em, es, b.fm, b.fs) or partsBefore(b.lm, b.ls, em, es) then return 'gone' end
  if partsBefore(b.dm, b.ds, em, es) then return 'there' end
  return 'unknown'
end

-- Whether the job without a record queued at `entryId` of a lane of `stage` (the queue's first) is
-- lost: its entry is gone from the lane's stream (`gone`: the caller knows it is), and no worker
-- holds it (a first attempt that runs keeps a copy of its entry in the active index, and
-- finishes or is taken over from it).
local function queuedJobLost(base, stage, lane, entryId, gone)
  if not gone and rcall('XRANGE', base .. stage .. ':' .. lane, entryId, entryId)[1] then return false end
  return rcall('HEXISTS', base .. 'active', stage .. ':' .. lane .. ':' .. entryId) == 0
end

-- Whether `entryId` is in the PEL of `stream`'s group `group`; false when there is no group.
local function isPending(stream, group, entryId)
  local pending = redis.pcall('XPENDING', stream, group, entryId, entryId, 1)
  return type(pending) == 'table' and not pending.err and #pending > 0
end

-- Whether the running first attempt held under the active index for `entryId` (gone from its
-- stream) is one no worker will end: its worker no longer says it is alive (the workers hash),
-- and the entry is in no group's PEL (the stream was deleted whole, group and all), so no
-- takeover will meet it. A live holder finds the entry gone at its next renewal itself.
local function orphanedAttempt(base, stage, lane, entryId, now)
  local held = recordlessAttempt(base, stage, lane, entryId)
  if not held then return false end
  if tonumber(rcall('HGET', base .. 'workers', held.worker) or '0') > now then return false end
  return not isPending(base .. stage .. ':' .. lane, stage, entryId)
end

-- Whether a job's record is a lost job's (see above).
local function isLostRecord(jobKey)
  return rcall('HEXISTS', jobKey, 'payload') == 0
end

-- The record of a lost job (see queuedJobLost) before it is dead-lettered, as HSET's fields and
-- values, and its ENTRY_LOST error.
local function lostJobFields(stage, jobId, lane, entryId, now)
  local createdAt = string.match(entryId, '^(%d+)')
  local err = cjson.encode({
    message = 'The job\'s stream entry was gone before any Conveyor worker took it, and its input with it: another Redis client deleted it (XADD MAXLEN, XTRIM or XDEL), or read and acknowledged it in the stage\'s consumer group, after which the workers\' trimming removed it. Submit the job again.',
    code = 'ENTRY_LOST', retryable = false, stage = stage, attempt = 0, at = now })
  return { 'id', jobId, 'queue', string.match(jobId, '^([^:]+)'), 'stage', stage, 'lane', lane, 'created_at', createdAt,
    'queued_at', createdAt, 'attempts', '0', 'entry', entryId, 'errors', '[' .. err .. ']' }, err
end

-- Writes the record of a lost job, dead-lettered, and drops its queued-index line.
local function recordLostJob(base, stage, jobId, lane, entryId, now, retentionSeconds)
  local jobKey = base .. 'job:' .. jobId
  local fields, err = lostJobFields(stage, jobId, lane, entryId, now)
  rcall('HSET', jobKey, unpack(fields))
  rcall('HDEL', base .. 'queued', jobId)
  deadLetter(base, jobKey, jobId, now, err, retentionSeconds)
end

-- Queues a job with a record again whose waiting entry (its queued-index line: `stage`, `lane`,
-- `entryId`) is gone (the caller knows it is), deleted before a worker read it, on a new entry. Returns true when it did; a line
-- that no longer says where the job waits (the job moved on) is dropped. A job cancelled while
-- that entry waited kept its record for the worker that reads past the entry (see cancel); with
-- the entry gone none will, so its record expires from now. (Its count among the lane's cancelled
-- entries stays, as the deleted entry stays in the group's lag bound, until the lane's group has
-- read everything and the count is cleared: see cancelledWaiting.)
local function requeueLostEntry(base, jobId, stage, lane, entryId, now, retentionSeconds)
  local jobKey = base .. 'job:' .. jobId
  local r = rcall('HMGET', jobKey, 'status', 'stage', 'lane', 'entry')
  if (r[1] ~= 'queued' and r[1] ~= 'cancelled') or r[2] ~= stage or r[3] ~= lane or r[4] ~= entryId then
    rcall('HDEL', base .. 'queued', jobId)
    return false
  end
  local stream = base .. stage .. ':' .. lane
  if r[1] == 'cancelled' then
    rcall('EXPIRE', jobKey, retentionSeconds)
    rcall('HDEL', base .. 'queued', jobId)
    return false
  end
  -- Delivered and still pending (a job a stopping worker let go of, see release): it is queued
  -- again once the takeover has dropped the deleted entry from the PEL. No group (the stream was
  -- deleted whole): the workers make it again.
  if isPending(stream, stage, entryId) then return false end
  local entry = rcall('XADD', stream, '*', 'job', jobId)
  rcall('HSET', jobKey, 'entry', entry, 'queued_at', now, 'updated_at', now)
  rcall('HSET', base .. 'queued', jobId, waitingLine(stage, lane, entry))
  publishEvent(base .. 'events', 'queued', jobId, now, { stage = stage })
  return true
end
