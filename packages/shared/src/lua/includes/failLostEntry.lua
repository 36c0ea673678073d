-- @include nowMs
-- @include publishEvent
-- @include appendError
-- @include deadLetter
-- @include countEvent
-- @include recordless
-- @include waitingEntry
-- An entry that was pending (held by a worker) was deleted from its stream by something other
-- than Conveyor (XDEL, or MAXLEN trimming by another client): Redis drops it from the PEL and
-- reports its ID. Or another client acknowledged it (XACK), which drops it from the PEL as well:
-- the renewal of its lease finds it gone from there (ENTRY_ACKED rather than ENTRY_DELETED). Its job is not forgotten: the attempt counts as failed and the job is retried
-- (queued again at once, from its record) or dead-lettered when no attempts are left. A job
-- without a record gets one first, from the active index's copy of its entry (see recordless).
-- Returns whether it failed an attempt (not when no attempt of the job runs on that entry).
local function failLostEntry(ctx, lane, entryId, now)
  local activeField = ctx.stage .. ':' .. lane .. ':' .. entryId
  local line = rcall('HGET', ctx.activeKey, activeField)
  if not line then return false end
  local held = parseActiveLine(line)
  local jobId = held.jobId
  if held.map then materialize(ctx.base, ctx.stage, lane, entryId, held) end
  rcall('HDEL', ctx.activeKey, activeField)
  local jobKey = ctx.base .. 'job:' .. jobId
  local r = rcall('HMGET', jobKey, 'status', 'entry', 'attempts', 'max_attempts', 'worker')
  if r[1] ~= 'active' or r[2] ~= entryId then return false end
  local attempts = tonumber(r[3] or '0')
  local failures = rcall('HINCRBY', jobKey, 'failures', 1)
  -- Still in the stream, yet no longer held: another client acknowledged it (XACK) in the group.
  local acked = rcall('XRANGE', ctx.base .. ctx.stage .. ':' .. lane, entryId, entryId, 'COUNT', 1)[1] ~= nil
  local err = cjson.encode({
    message = acked and 'The stream entry of this attempt was acknowledged (XACK) in its consumer group by a Redis client other than the worker holding it; only Conveyor\'s workers may acknowledge the entries of its groups.'
      or 'The stream entry of this attempt was deleted while a worker held it (XDEL or MAXLEN trimming by another Redis client).',
    code = acked and 'ENTRY_ACKED' or 'ENTRY_DELETED', retryable = true, stage = ctx.stage, attempt = attempts, at = now, worker = r[5] or nil })
  appendError(jobKey, err)
  publishEvent(ctx.base .. 'events', 'failed', jobId, now, { stage = ctx.stage, attempt = attempts, error = cjson.decode(err) })
  countEvent(ctx.base, now, 'failed', ctx.stage)
  if failures < (tonumber(r[4]) or ctx.defaultMaxAttempts) then
    local entry = rcall('XADD', ctx.base .. ctx.stage .. ':' .. lane, '*', 'job', jobId)
    rcall('HSET', jobKey, 'status', 'queued', 'entry', entry, 'queued_at', now, 'updated_at', now)
    rcall('HSET', ctx.base .. 'queued', jobId, waitingLine(ctx.stage, lane, entry))
    publishEvent(ctx.base .. 'events', 'queued', jobId, now, { stage = ctx.stage })
  else
    deadLetter(ctx.base, jobKey, jobId, now, err, ctx.retentionSeconds)
  end
  return true
end
