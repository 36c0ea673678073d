-- @include nowMs
-- @include publishEvent
-- @include countEvent
-- Moves a job to the dead letter: a copy goes to the dead stream with its last error
-- and its error history, the record says `dead` and expires after the retention.
-- The caller has already acked the stage entry.
local function deadLetter(base, jobKey, jobId, now, errorJson, retentionSeconds)
  local r = rcall('HMGET', jobKey, 'queue', 'stage', 'lane', 'attempts', 'payload', 'errors', 'created_at')
  -- A lost job (see lostJobs) has no payload to copy: its input went with its stream entry.
  local payload = {}
  if r[5] then payload = { 'payload', r[5] } end
  local entry = rcall('XADD', base .. 'dead', '*',
    'job', jobId,
    'queue', r[1] or '',
    'stage', r[2] or '',
    'lane', r[3] or '',
    'attempts', r[4] or '0',
    'error', errorJson,
    'errors', r[6] or '[]',
    'created_at', r[7] or '',
    'dead_at', now,
    unpack(payload))
  rcall('HSET', jobKey, 'status', 'dead', 'error', errorJson, 'finished_at', now, 'updated_at', now, 'dead_entry', entry)
  rcall('HDEL', jobKey, 'lease_entry')
  rcall('EXPIRE', jobKey, retentionSeconds)
  publishEvent(base .. 'events', 'dead', jobId, now, { stage = r[2], error = cjson.decode(errorJson) })
  countEvent(base, now, 'dead', r[2] or '')
end
