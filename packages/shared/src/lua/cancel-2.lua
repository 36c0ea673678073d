--[[
  Cancels a job that has not finished. A queued, delayed or retrying job never runs: its record
  says `cancelled`, and a worker that later reads its entry acks and skips it. The record of a
  job cancelled while its entry waits in a stream gets no expiry here: the worker that reads past
  the entry sets it (see startJob). Expiring now, a record could be gone before a worker reaches
  the entry (a long backlog, a short JOB_RETENTION, a paused stage), and the entry would then
  read as a job never started, and run. An active job's
  entry is acked here, and a `cancel` message on the control channel tells its worker to fire the
  job's AbortSignal; a worker that misses the message learns it at its next lease renewal.

  KEYS[1] job record
  KEYS[2] queued index hash

  ARGV[1] base
  ARGV[2] job ID
  ARGV[3] first stage of the queue
  ARGV[4] queue name
  ARGV[5] retention of finished records, seconds
  ARGV[6] control channel

  Output: {1, status before}  cancelled
          {-1}                no such job
          {-5, status}        the job already finished (completed, dead or cancelled)
]]
local rcall = redis.call
-- @include directJobEntry
-- @include nowMs
-- @include publishEvent
-- @include countEvent
-- @include groupInfo
-- @include recordless
-- @include cancelledWaiting
-- @include lostJobs

local jobKey, base, jobId, firstStage, queue = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local now = nowMs()

-- `entryWaits`: the job's entry is still in a stream, to be read past (see above).
local function finish(before, stage, entryWaits)
  rcall('HSET', jobKey, 'status', 'cancelled', 'finished_at', now, 'updated_at', now)
  if not entryWaits then rcall('EXPIRE', jobKey, tonumber(ARGV[5])) end
  publishEvent(base .. 'events', 'cancelled', jobId, now, { stage = stage })
  countEvent(base, now, 'cancelled', stage)
  return { 1, before }
end

-- A queued job without a record gets one, saying cancelled, that points at its entry.
local function cancelEntry(lane, entryId, fields, stage)
  local map = {}
  for i = 1, #fields, 2 do map[fields[i]] = fields[i + 1] end
  local payload = map['payload']
  if not namedJobId(queue, map['job']) then payload = cjson.encode(map) end
  rcall('HSET', jobKey, 'id', jobId, 'queue', queue, 'stage', stage, 'lane', lane, 'entry', entryId,
    'payload', payload or '{}', 'attempts', 0, 'created_at', string.match(entryId, '^(%d+)'))
  rcall('HSET', KEYS[2], jobId, waitingLine(stage, lane, entryId))
  countCancelledWaiting(base, stage, lane, 1)
  return finish('queued', stage, true)
end

local r = rcall('HMGET', jobKey, 'status', 'stage', 'lane', 'entry')
local lane, entryId
if not r[1] then
  lane, entryId = queuedEntry(base, jobId)
  -- Running without a record (see recordless): it gets one, and is cancelled as any active job.
  local running = lane and recordlessAttempt(base, firstStage, lane, entryId)
  if running and running.jobId == jobId then
    materialize(base, firstStage, lane, entryId, running)
    r = rcall('HMGET', jobKey, 'status', 'stage', 'lane', 'entry')
    lane = nil
  end
end
local status = r[1]
if status then
  if status == 'completed' or status == 'dead' or status == 'cancelled' then return { -5, status } end
  if status == 'active' then
    local activeField = r[2] .. ':' .. r[3] .. ':' .. r[4]
    rcall('XACK', base .. r[2] .. ':' .. r[3], r[2], r[4])
    rcall('HDEL', base .. 'active', activeField)
    rcall('PUBLISH', ARGV[6], cjson.encode({ type = 'cancel', job_id = jobId, queue = queue }))
  end
  rcall('ZREM', base .. 'delayed', jobId)
  -- A queued job's entry waits in its stream (a released one's is pending, to be taken over),
  -- unless another client deleted it: then no worker will read past it.
  local entryWaits = status == 'queued' and r[4] ~= nil and r[4] ~= ''
    and rcall('XRANGE', base .. r[2] .. ':' .. r[3], r[4], r[4])[1] ~= nil
  if entryWaits then
    if not isDelivered(base .. r[2] .. ':' .. r[3], r[2], r[4]) then countCancelledWaiting(base, r[2], r[3], 1) end
    -- Its line stays until a worker reads past the entry (or takes over a released one): should
    -- another client delete the entry first, no worker will, and a walk lets the record expire
    -- instead (see lostJobs).
    rcall('HSET', KEYS[2], jobId, waitingLine(r[2], r[3], r[4]))
  elseif status == 'queued' then
    rcall('HDEL', KEYS[2], jobId)
  end
  return finish(status, r[2], entryWaits)
end

if lane then
  local found = rcall('XRANGE', base .. firstStage .. ':' .. lane, entryId, entryId)[1]
  if not found and queuedJobLost(base, firstStage, lane, entryId, true) then
    -- Its entry is gone, and its input with it: it is recorded lost (see lostJobs), which is final.
    recordLostJob(base, firstStage, jobId, lane, entryId, now, tonumber(ARGV[5]))
    return { -5, 'dead' }
  end
  return cancelEntry(lane, entryId, found and found[2] or {}, firstStage)
end

-- A job XADDed by another producer (named after its entry) that no worker has taken yet.
local stage, fields
stage, lane, entryId, fields = directJobEntry(base, queue, firstStage, jobId)
if stage and not isDelivered(base .. stage .. ':' .. lane, stage, entryId) then return cancelEntry(lane, entryId, fields, stage) end
return { -1 }
