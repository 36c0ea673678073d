--[[
  Completes the current stage of one or more jobs held by one worker, in one atomic step: each
  entry is acked, its output written, and its job either advances (a new entry on the next
  stage's stream, status `queued`) or ends `completed` and its record starts to expire.
  A job the API queued that finishes its first attempt has no record yet (see recordless): its
  whole record is written here, in the same call that completes it.
  A late or duplicate completion, from a worker whose lease was lost, is refused, job by job.
  All jobs are of one queue, so every key shares its hash slot (the queue's tag in `base`): the
  keys of each job are built here from `base`, as the other scripts build theirs, instead of being
  sent 3 per job (a completion batch of 128 was ~1,150 arguments; each costs the worker's client
  and Redis a little before any work is done).
  Then, optionally, it takes jobs for the slots these completions free (see takeFromLanes), so
  a busy worker finishes and takes in one round trip instead of two.

  Called with a key count first (ioredis passes it): 1, or 4 with a take.
  KEYS[1]         active hash
  KEYS[2..4]      with a take, the streams of the stage's high, normal and low lanes

  ARGV[1] base
  ARGV[2] retention of finished records, seconds
  ARGV[3] T: 0 without a take, else 12 and ARGV[4..15] say what to take: the stage context
          (as take's ARGV[1..9]), count, lane flags, aging limit (ms)
  ARGV[4 + T] one line per job: "<stage> <lane> <entry ID> <attempt the worker was given> <next
          stage>\n" (the next stage is '' when this is the last stage; none of these values can
          hold a space: stage names are the pipelines', entry IDs Redis's)
  then 2 per job, in the same order: job ID, output (JSON)

  Output: {codes, jobs, wait}: one code per job, in order (1 completed, 2 advanced to the next
  stage, -1 no record, -2 not the current attempt), then what the take gave (see take; {} and
  {} without a take).
]]
local rcall = redis.call
-- @include nowMs
-- @include publishEvent
-- @include checkAttempt
-- @include stageTimings
-- @include countEvent
-- @include takeFromLanes
-- @include stageContext

local base, retention, takeArgs = ARGV[1], ARGV[2], tonumber(ARGV[3])
local valuesAt = 4 + takeArgs
local n = (#ARGV - valuesAt) / 2
local now = nowMs()
-- Formatted once: a number in a string or a command's arguments is formatted again each time.
local nowText = tostring(now)
local events = base .. 'events'
local watched = isWatched(events)
local results = {}

-- Each job's stage, lane, entry, attempt and next stage, from its line; its active-index field.
local stageOf, laneOf, entryOf, attemptOf, nextStageOf, activeFieldOf = {}, {}, {}, {}, {}, {}
local lines = 0
for stage, lane, entryId, attempt, nextStage in string.gmatch(ARGV[valuesAt], '(%S+) (%S+) (%S+) (%S+) (%S*)\n') do
  lines = lines + 1
  stageOf[lines], laneOf[lines], entryOf[lines], attemptOf[lines], nextStageOf[lines] = stage, lane, entryId, attempt, nextStage
  activeFieldOf[lines] = stage .. ':' .. lane .. ':' .. entryId
end
if lines ~= n then return redis.error_reply('ERR complete: ' .. lines .. ' job lines for ' .. n .. ' jobs') end
-- The active-index lines, read at once: a running first attempt without a record (see
-- recordless) is checked and completed from its line.
local activeLines = {}
if n > 0 then activeLines = rcall('HMGET', KEYS[1], unpack(activeFieldOf)) end
-- Acks per stream and group, the index fields and the counters, each sent once for all jobs.
local acks, ackOrder = {}, {}
local activeFields, dequeued = {}, {}
local completedPerStage = {}

local function ack(stream, group, entryId)
  local key = stream .. '\0' .. group
  if not acks[key] then
    acks[key] = { stream = stream, group = group, ids = {} }
    ackOrder[#ackOrder + 1] = key
  end
  local ids = acks[key].ids
  ids[#ids + 1] = entryId
end

for i = 1, n do
  local stage, lane, entryId, attempt, nextStage = stageOf[i], laneOf[i], entryOf[i], attemptOf[i], nextStageOf[i]
  local at = valuesAt + (i - 1) * 2
  local jobId, output = ARGV[at + 1], ARGV[at + 2]
  local stream, jobKey = base .. stage .. ':' .. lane, base .. 'job:' .. jobId
  local r, firstFields, refusal
  local running = runningAttempt(activeLines[i])
  if running and running.jobId == jobId then
    if attempt ~= '1' then
      refusal = -2
    else
      firstFields = firstAttemptFields(stage, lane, entryId, running)
      r = { 'active', stage, entryId, attempt, false, running.startedAt, running.worker, false }
      dequeued[#dequeued + 1] = running.jobId
    end
  else
    -- One read for the fencing check and everything the completion writes.
    r = rcall('HMGET', jobKey, 'status', 'stage', 'entry', 'attempts', 'stages', 'stage_started_at', 'worker', 'error')
  end
  refusal = refusal or attemptRefusal(r, stage, entryId, attempt)
  if refusal then
    if refusal == -1 then ack(stream, stage, entryId) end
    results[i] = refusal
  else
    ack(stream, stage, entryId)
    activeFields[#activeFields + 1] = activeFieldOf[i]
    completedPerStage[stage] = (completedPerStage[stage] or 0) + 1
    local stages
    if firstFields then
      stages = firstStageTimings(stage, r[6], r[7], nowText)
    else
      stages = stageTimings(r[5], r[4], r[6], r[7], stage, now)
    end
    if nextStage ~= '' then
      if firstFields then rcall('HSET', jobKey, unpack(firstFields)) end
      local entry = rcall('XADD', base .. nextStage .. ':' .. lane, '*', 'job', jobId)
      rcall('HSET', jobKey, 'out:' .. stage, output, 'stage', nextStage, 'status', 'queued', 'stages', stages,
        'entry', entry, 'attempts', '0', 'failures', '0', 'stalls', '0', 'queued_at', nowText, 'updated_at', nowText)
      rcall('HDEL', jobKey, 'stage_started_at', 'error')
      if watched then publishEvent(events, 'stage-completed', jobId, now, { stage = stage, next_stage = nextStage }) end
      results[i] = 2
    else
      -- One HSET; for a job without a record, its whole record.
      local fields = firstFields or {}
      for _, value in ipairs({ 'status', 'completed', 'result', output, 'stages', stages, 'finished_at', nowText, 'updated_at', nowText }) do
        fields[#fields + 1] = value
      end
      rcall('HSET', jobKey, unpack(fields))
      if r[8] then rcall('HDEL', jobKey, 'error') end
      rcall('EXPIRE', jobKey, retention)
      if watched then publishEvent(events, 'completed', jobId, now, { stage = stage }) end
      results[i] = 1
    end
  end
end

for _, key in ipairs(ackOrder) do
  local batch = acks[key]
  rcall('XACK', batch.stream, batch.group, unpack(batch.ids))
end
if #activeFields > 0 then rcall('HDEL', KEYS[1], unpack(activeFields)) end
if #dequeued > 0 then rcall('HDEL', base .. 'queued', unpack(dequeued)) end
for stage, count in pairs(completedPerStage) do countEvent(base, now, 'completed', stage, count) end

local jobs, wait = {}, {}
if takeArgs > 0 then
  local ctx = stageContext(KEYS[1], 3)
  jobs, wait = takeFromLanes(ctx, { KEYS[#KEYS - 2], KEYS[#KEYS - 1], KEYS[#KEYS] }, tonumber(ARGV[13]), ARGV[14], tonumber(ARGV[15]), now)
end
return { results, jobs, wait }
