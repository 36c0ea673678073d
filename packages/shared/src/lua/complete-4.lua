--[[
  Completes the current stage of a job, in one atomic step: its entry is acked, its output
  written, and the job either advances (a new entry on the next stage's stream, status
  `queued`) or ends `completed` and its record starts to expire.
  A late or duplicate completion, from a worker whose lease was lost, is refused.

  KEYS[1] stream the entry was read from
  KEYS[2] job record
  KEYS[3] active hash
  KEYS[4] next stage's stream in the job's lane (any key of the queue when this is the last stage)

  ARGV[1] base
  ARGV[2] stage (the group name)
  ARGV[3] lane
  ARGV[4] entry ID
  ARGV[5] attempt the worker was given
  ARGV[6] output (JSON)
  ARGV[7] next stage ('' when this is the last stage)
  ARGV[8] retention of finished records, seconds

  Output: 1 completed, 2 advanced to the next stage, -1 no record, -2 not the current attempt
]]
local rcall = redis.call
-- @include nowMs
-- @include publishEvent
-- @include checkAttempt
-- @include stageTimings
-- @include countEvent

local jobKey, stage, lane, entryId = KEYS[2], ARGV[2], ARGV[3], ARGV[4]
-- One read for the fencing check and everything the completion writes.
local r = rcall('HMGET', jobKey, 'status', 'stage', 'entry', 'attempts', 'id', 'stages', 'stage_started_at', 'worker', 'error')
local refusal = attemptRefusal(r, stage, entryId, ARGV[5])
if refusal then
  if refusal == -1 then rcall('XACK', KEYS[1], stage, entryId) end
  return refusal
end

local now = nowMs()
local jobId = r[5]
rcall('XACK', KEYS[1], stage, entryId)
rcall('HDEL', KEYS[3], stage .. ':' .. lane .. ':' .. entryId)
local stages = stageTimings(r[6], r[4], r[7], r[8], stage, now)

local nextStage = ARGV[7]
if nextStage ~= '' then
  local entry = rcall('XADD', KEYS[4], '*', 'job', jobId)
  rcall('HSET', jobKey, 'out:' .. stage, ARGV[6], 'stage', nextStage, 'status', 'queued', 'stages', stages,
    'entry', entry, 'attempts', 0, 'failures', 0, 'stalls', 0, 'queued_at', now, 'updated_at', now)
  rcall('HDEL', jobKey, 'stage_started_at', 'error')
  publishEvent(ARGV[1] .. 'events', 'stage-completed', jobId, now, { stage = stage, next_stage = nextStage })
  countEvent(ARGV[1], now, 'completed', stage)
  return 2
end

rcall('HSET', jobKey, 'status', 'completed', 'result', ARGV[6], 'stages', stages, 'finished_at', now, 'updated_at', now)
if r[9] then rcall('HDEL', jobKey, 'error') end
rcall('EXPIRE', jobKey, tonumber(ARGV[8]))
publishEvent(ARGV[1] .. 'events', 'completed', jobId, now, { stage = stage })
countEvent(ARGV[1], now, 'completed', stage)
return 1
