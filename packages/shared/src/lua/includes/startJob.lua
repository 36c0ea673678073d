-- @include nowMs
-- @include publishEvent
-- @include fieldsToMap
-- @include deadLetter
-- @include appendError
-- Starts one entry just delivered to ctx.consumer. Three kinds of entry reach here:
--   * an API job with no record yet: fields `job` and `payload` (and `opts`); its record is
--     written now and its line in the queued index removed;
--   * a job that has a record (documents, retries, later stages): field `job` only;
--   * an entry XADDed by any other producer with plain fields: its job ID is
--     `<queue>:<entry ID>` and its fields are the payload.
-- Returns the job tuple
--   {jobId, lane, entryId, attempt, maxAttempts, payload, input, timeoutMs, backoff, createdAt}
-- or false when nothing is to be run: the entry is stale (its job moved on, finished or was
-- cancelled) and was acked, or the job's attempts were all spent by workers that stopped
-- while holding it, and it was dead-lettered.
local function startJob(ctx, stream, lane, entryId, fields, now)
  local activeField = ctx.stage .. ':' .. lane .. ':' .. entryId
  local map = fieldsToMap(fields)
  local jobId = map['job'] or (ctx.queue .. ':' .. entryId)
  local jobKey = ctx.base .. 'job:' .. jobId
  local rec = rcall('HMGET', jobKey, 'status', 'entry', 'attempts', 'max_attempts', 'releases',
    'payload', 'timeout_ms', 'backoff', 'created_at')
  local payload, maxAttempts, timeoutMs, backoff, createdAt = rec[6], rec[4], rec[7], rec[8], rec[9]

  if rec[1] then
    if rec[2] ~= entryId or (rec[1] ~= 'queued' and rec[1] ~= 'active') then
      rcall('XACK', stream, ctx.group, entryId)
      rcall('HDEL', ctx.activeKey, activeField)
      return false
    end
  else
    createdAt = string.match(entryId, '^(%d+)')
    if map['job'] then
      rcall('HDEL', ctx.base .. 'queued', jobId)
      payload = map['payload'] or '{}'
      if map['opts'] then
        local opts = cjson.decode(map['opts'])
        maxAttempts = opts['max_attempts'] and tostring(opts['max_attempts']) or false
        timeoutMs = opts['timeout_ms'] and tostring(opts['timeout_ms']) or false
        backoff = opts['backoff'] and cjson.encode(opts['backoff']) or false
      end
    else
      payload = cjson.encode(map)
    end
    rcall('HSET', jobKey, 'id', jobId, 'queue', ctx.queue, 'stage', ctx.stage, 'lane', lane,
      'status', 'queued', 'payload', payload, 'created_at', createdAt, 'queued_at', createdAt,
      'attempts', 0, 'entry', entryId)
    if maxAttempts then rcall('HSET', jobKey, 'max_attempts', maxAttempts) end
    if timeoutMs then rcall('HSET', jobKey, 'timeout_ms', timeoutMs) end
    if backoff then rcall('HSET', jobKey, 'backoff', backoff) end
  end

  local attempts = tonumber(rec[3] or '0')
  local limit = tonumber(maxAttempts or ctx.defaultMaxAttempts)
  if attempts - tonumber(rec[5] or '0') >= limit then
    rcall('XACK', stream, ctx.group, entryId)
    rcall('HDEL', ctx.activeKey, activeField)
    local err = cjson.encode({
      message = 'The job was taken ' .. attempts .. ' times and each worker holding it stopped before it finished (its lease expired). It is dead-lettered so that it cannot stop more workers.',
      code = 'LEASE_EXPIRED', stage = ctx.stage, attempt = attempts, at = now })
    appendError(jobKey, err)
    deadLetter(ctx.base, jobKey, jobId, now, err, ctx.retentionSeconds)
    return false
  end

  attempts = rcall('HINCRBY', jobKey, 'attempts', 1)
  rcall('HSET', jobKey, 'status', 'active', 'worker', ctx.consumer, 'started_at', now, 'updated_at', now)
  if attempts == 1 then rcall('HSET', jobKey, 'stage_started_at', now) end
  rcall('HSET', ctx.activeKey, activeField, jobId)
  publishEvent(ctx.base .. 'events', 'active', jobId, now, { stage = ctx.stage, attempt = attempts, worker = ctx.consumer })

  local input = ''
  if ctx.previousStage ~= '' then
    input = rcall('HGET', jobKey, 'out:' .. ctx.previousStage) or ''
  end
  return { jobId, lane, entryId, attempts, limit, payload, input, timeoutMs or '', backoff or '', createdAt }
end
