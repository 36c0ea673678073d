-- @include nowMs
-- @include publishEvent
-- @include fieldsToMap
-- @include deadLetter
-- @include appendError
-- @include directJobs
-- @include recordless
-- @include cancelledWaiting
-- @include countEvent
-- @include recordLost
-- A started job as the worker reads it, one reply element per job instead of eleven (each element
-- costs Redis a little to send, and a take sends hundreds):
--   '<job ID> <lane> <entry ID> <attempt> <max attempts> <timeout ms or -> <created at> <queued at>
--    <bytes of backoff> <bytes of input> <backoff><input><payload>'
-- backoff (JSON; false or nil when the job has none) and input (the previous stage's output, ''
-- for none) come before the payload, which is the rest of the line. Nothing before the lengths
-- can hold a space. An input left out of the line (see inputOf) has its length given negated.
-- Numbers are best passed as text: Lua formats a number put into a string with sprintf, a cost
-- paid per job of a take.
local function jobLine(jobId, lane, entryId, attempt, maxAttempts, payload, input, inputLength, timeoutMs, backoff, createdAt, queuedAt)
  local timeout = (timeoutMs and timeoutMs ~= '') and timeoutMs or '-'
  local backoffLength = '0'
  if backoff and backoff ~= '' then backoffLength = #backoff else backoff = '' end
  return jobId .. ' ' .. lane .. ' ' .. entryId .. ' ' .. attempt .. ' ' .. maxAttempts .. ' ' .. timeout .. ' ' .. (createdAt or '0') ..
    ' ' .. (queuedAt or '0') .. ' ' .. backoffLength .. ' ' .. inputLength .. ' ' .. backoff .. input .. (payload or '')
end

-- The previous stage's output as a job's line carries it: the text and its length. One longer than
-- MAX_INLINE_INPUT is left out, '' with its length negated, and not read here at all: the worker
-- reads it (HGET out:<previous stage>) when the job may load it, so a take of many jobs does not
-- bring a worker many long texts (a document's) at once, nor copy each into Lua for nothing.
local MAX_INLINE_INPUT = 1048576
local function inputOf(jobKey, previousStage)
  if previousStage == '' then return '', 0 end
  local field = 'out:' .. previousStage
  local length = rcall('HSTRLEN', jobKey, field)
  if length > MAX_INLINE_INPUT then return '', -length end
  return rcall('HGET', jobKey, field) or '', length
end

-- Drops a started job's line from the queued index (collected when ctx.batched).
local function dequeue(ctx, jobId)
  if ctx.batched then
    ctx.batched.dequeued[#ctx.batched.dequeued + 1] = jobId
  else
    rcall('HDEL', ctx.base .. 'queued', jobId)
  end
end

-- Puts a started job's line in the active index (collected when ctx.batched) and publishes `active`.
local function markActive(ctx, activeField, line, jobId, attempt, now)
  if ctx.batched then
    local active = ctx.batched.active
    active[#active + 1] = activeField
    active[#active + 1] = line
  else
    rcall('HSET', ctx.activeKey, activeField, line)
  end
  if isWatched(ctx.events) then
    publishEvent(ctx.events, 'active', jobId, now, { stage = ctx.stage, attempt = attempt, worker = ctx.consumer })
  end
end

-- Starts one entry just delivered to ctx.consumer. Three kinds of entry reach here:
--   * an API job with no record yet: fields `job` and `payload` (and `opts`). On its first
--     delivery (`unstarted`: the caller read it as a new entry and the queued index still
--     points at it, see unstartedJobs) its record is still not written: its line in the
--     active index says the attempt runs (see recordless). Redelivered (its lease lapsed), it
--     gets the record its first attempt would have had, and goes on as the next kind;
--   * a job that has a record (documents, retries, later stages): field `job` only;
--   * an entry XADDed by any other producer with plain fields: its job ID is made from its
--     entry ID (see directJobs) and its fields are the payload.
-- A record that still says `active` means the previous attempt's worker stopped holding the
-- job (its lease lapsed): that is a stall. Stalls have their own budget (max stalls), apart from
-- max attempts, which counts failed attempts: a worker killed by a deploy is not the job's
-- fault, but a job whose workers keep dying is dead-lettered before it takes down the fleet.
-- Returns the job's line (see jobLine) and whether it had been released, or false when nothing
-- is to be run: the entry is stale (its job moved on, finished or was cancelled) and was acked,
-- or the job was dead-lettered (then it is in ctx.deadOut): it stalled too often, or its record
-- is gone.
--
-- With ctx.batched (see batchStarts), the index writes of every job started are collected and
-- written by finishStarts in one call per index.
local function startJob(ctx, stream, lane, entryId, fields, now, unstarted)
  local activeField = ctx.stage .. ':' .. lane .. ':' .. entryId

  if unstarted then
    -- The first attempt of a job the API queued: no record yet (see recordless). Its entry's
    -- fields are `job`, `payload` and maybe `opts`, in that order (unstartedJobs checked the first two).
    local jobId, payload, opts = fields[2], fields[4], fields[5] == 'opts' and fields[6]
    markActive(ctx, activeField, runningLine(jobId, ctx.nowText, ctx.consumer, opts, payload), jobId, 1, now)
    local maxAttempts, timeoutMs, backoff = optionsOf(opts)
    local createdAt = string.match(entryId, '^(%d+)')
    return jobLine(jobId, lane, entryId, '1', maxAttempts or ctx.defaultMaxAttemptsText, payload, '', '0', timeoutMs, backoff, createdAt, createdAt)
  end

  local map = fieldsToMap(fields)
  local named = namedJobId(ctx.queue, map['job'])
  local jobId = named or directJobId(ctx.queue, ctx.firstStage, ctx.stage, lane, entryId)
  local jobKey = ctx.base .. 'job:' .. jobId
  local apiJob = named and map['payload'] and ctx.previousStage == ''
  if apiJob and not unstarted then
    -- Redelivered while its first attempt had no record: written now, as that attempt's.
    local running = recordlessAttempt(ctx.base, ctx.stage, lane, entryId)
    if running and running.jobId == jobId then materialize(ctx.base, ctx.stage, lane, entryId, running) end
  end
  local rec = rcall('HMGET', jobKey, 'status', 'entry', 'attempts', 'max_attempts', 'stalls',
    'payload', 'timeout_ms', 'backoff', 'created_at', 'queued_at', 'worker')
  local payload, maxAttempts, timeoutMs, backoff, createdAt, queuedAt = rec[6], rec[4], rec[7], rec[8], rec[9], rec[10]

  local attempts
  if not rec[1] and named then
    -- A job the API queued has no record while it waits and while its first attempt runs: its
    -- line in the queued index names its entry until then. Another entry naming it (XADDed by
    -- another client with the reserved `job` field) is not that job: started, it would write a
    -- record over a running attempt's, and the job would run and finish twice.
    local _, queuedEntryId = queuedEntry(ctx.base, jobId)
    if queuedEntryId and queuedEntryId ~= entryId then
      rcall('XACK', stream, ctx.group, entryId)
      rcall('HDEL', ctx.activeKey, activeField)
      return false
    end
    -- The entry of a job with a record (`job` without `payload`: a document, a retry, a later
    -- stage) whose record is gone (see recordLost). Run, it failed as a request with no fields
    -- (INVALID_PAYLOAD), which blamed the payload.
    if not map['payload'] then
      rcall('XACK', stream, ctx.group, entryId)
      rcall('HDEL', ctx.activeKey, activeField)
      deadLetterRecordLost(ctx.base, jobKey, jobId, ctx.stage, lane, entryId, now, ctx.retentionSeconds)
      ctx.deadOut[#ctx.deadOut + 1] = jobId .. ' RECORD_LOST 0'
      return false
    end
  end
  if not rec[1] then
    -- No record yet: written now, already active, in one call.
    createdAt = string.match(entryId, '^(%d+)')
    queuedAt = createdAt
    if named then
      dequeue(ctx, jobId)
      payload = map['payload'] or '{}'
      maxAttempts, timeoutMs, backoff = entryOptions(map)
    else
      payload = cjson.encode(map)
      -- Another producer's job: counted as enqueued now, as the API counts its own when it stores them.
      countEvent(ctx.base, now, 'enqueued', ctx.stage)
    end
    attempts = 1
    local fields = { 'id', jobId, 'queue', ctx.queue, 'stage', ctx.stage, 'lane', lane,
      'status', 'active', 'payload', payload, 'created_at', createdAt, 'queued_at', createdAt,
      'attempts', attempts, 'entry', entryId, 'worker', ctx.consumer, 'started_at', now,
      'stage_started_at', now, 'updated_at', now }
    if maxAttempts then fields[#fields + 1] = 'max_attempts'; fields[#fields + 1] = maxAttempts end
    if timeoutMs then fields[#fields + 1] = 'timeout_ms'; fields[#fields + 1] = timeoutMs end
    if backoff then fields[#fields + 1] = 'backoff'; fields[#fields + 1] = backoff end
    rcall('HSET', jobKey, unpack(fields))
  else
    if rec[2] ~= entryId or (rec[1] ~= 'queued' and rec[1] ~= 'active') then
      rcall('XACK', stream, ctx.group, entryId)
      rcall('HDEL', ctx.activeKey, activeField)
      -- Cancelled while this entry waited: its record was kept for this moment (see cancel), and
      -- read now for the first time (ctx.newEntries), the entry no longer waits.
      if rec[1] == 'cancelled' and rec[2] == entryId then
        dequeue(ctx, jobId)
        rcall('EXPIRE', jobKey, ctx.retentionSeconds)
        if ctx.newEntries then countCancelledWaiting(ctx.base, ctx.stage, lane, -1) end
      end
      return false
    end
    if rec[1] == 'active' then
      local stalls = rcall('HINCRBY', jobKey, 'stalls', 1)
      local held = tonumber(rec[3] or '0')
      local lapse = {
        message = 'The worker running attempt ' .. held .. ' stopped renewing its lease (it died, hung or lost Redis) before the job finished.',
        code = 'LEASE_EXPIRED', retryable = true, stage = ctx.stage, attempt = held, at = now, worker = rec[11] or nil }
      appendError(jobKey, cjson.encode(lapse))
      -- Not a failure (its attempts are not counted), but an error in the job's history: said as
      -- one, before the `active` of the attempt that takes over or the `dead` of a stalled-out job.
      publishEvent(ctx.events, 'stalled', jobId, now, { stage = ctx.stage, attempt = held, worker = rec[11] or nil, error = lapse })
      if stalls > ctx.maxStalls then
        rcall('XACK', stream, ctx.group, entryId)
        rcall('HDEL', ctx.activeKey, activeField)
        local stalled = cjson.encode({
          message = stalls == 1 and 'The job stalled once: the worker holding it stopped before it finished. It is dead-lettered so that it cannot stop more workers (MAX_STALLS is 0).'
            or 'The job stalled ' .. stalls .. ' times: each time, the worker holding it stopped before it finished. It is dead-lettered so that it cannot stop more workers.',
          code = 'STALLED', retryable = false, stage = ctx.stage, attempt = held, at = now, worker = rec[11] or nil })
        appendError(jobKey, stalled)
        deadLetter(ctx.base, jobKey, jobId, now, stalled, ctx.retentionSeconds)
        ctx.deadOut[#ctx.deadOut + 1] = jobId .. ' STALLED ' .. stalls
        return false
      end
    end
    -- Its entry waits no more: its queued-index line goes (see waitingEntry).
    if rec[1] == 'queued' then dequeue(ctx, jobId) end
    attempts = rcall('HINCRBY', jobKey, 'attempts', 1)
    rcall('HSET', jobKey, 'status', 'active', 'worker', ctx.consumer, 'started_at', now, 'updated_at', now)
    rcall('HDEL', jobKey, 'progress', 'progress_message')
    if attempts == 1 then rcall('HSET', jobKey, 'stage_started_at', now) end
  end

  local limit = maxAttempts or ctx.defaultMaxAttemptsText
  markActive(ctx, activeField, jobId, jobId, attempts, now)

  local input, inputLength = inputOf(jobKey, ctx.previousStage)
  -- Second: whether the entry's last holder let go of it (release: its record said `queued` while
  -- the entry was still pending), for a takeover to tell a release from a lapsed lease.
  return jobLine(jobId, lane, entryId, attempts, limit, payload, input, inputLength, timeoutMs, backoff, createdAt, queuedAt or createdAt), rec[1] == 'queued'
end

-- Collects the index writes of the jobs started from here on; finishStarts writes them.
local function batchStarts(ctx)
  ctx.batched = { dequeued = {}, active = {} }
end

local function finishStarts(ctx)
  local batched = ctx.batched
  if #batched.dequeued > 0 then rcall('HDEL', ctx.base .. 'queued', unpack(batched.dequeued)) end
  if #batched.active > 0 then rcall('HSET', ctx.activeKey, unpack(batched.active)) end
  batchStarts(ctx)
end
