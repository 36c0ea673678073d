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
  ARGV[3] this call's token, and ARGV[4] how long (ms) to keep what it did: see repeatedCall
  ARGV[5] T: 0 without a take, else 12 and ARGV[6..17] say what to take: the stage context
          (as take's ARGV[1..9]), count, lane flags, aging limit (ms)
  ARGV[6 + T] one line per job: "<stage>:<lane>:<entry ID> <attempt the worker was given> <next
          stage>\n", its first part being its field in the active index (the next stage is '' when
          this is the last stage; none of these values can hold a space, nor a stage or lane a
          colon: stage names are the pipelines', entry IDs Redis's)
  then 2 per job, in the same order: job ID, output (JSON)

  Output: {codes, jobs, wait, repeated, deadOut}: one code per job, in order (1 completed, 2
  advanced to the next stage, -1 no record, -2 not the current attempt), then what the take gave
  (see take; {} and {} without a take), 0, and the jobs the take dead-lettered. Sent again (the
  same token), it replies its first run's codes, the jobs that run took that are still held, no
  wait, 1, and the jobs it dead-lettered.
]]
local rcall = redis.call
-- @include nowMs
-- @include publishEvent
-- @include checkAttempt
-- @include stageTimings
-- @include countEvent
-- @include takeFromLanes
-- @include stageContext
-- @include waitingEntry
-- @include repeatedCall
-- @include recordLost

local base, retention, token, keepMs, takeArgs = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local valuesAt = 6 + takeArgs
-- What to take along, if anything: its stage context is ARGV[6..14].
local ctx = takeArgs > 0 and stageContext(KEYS[1], 5) or nil
local kept = firstRun(base, token)
if kept then
  local head, jobs, _, deadOut = replayFirstRun(ctx, kept)
  local codes = {}
  for code in string.gmatch(head, '%S+') do codes[#codes + 1] = tonumber(code) end
  return { codes, jobs, {}, 1, deadOut }
end
local n = (#ARGV - valuesAt) / 2
local now = nowMs()
-- Formatted once: a number in a string or a command's arguments is formatted again each time.
local nowText = tostring(now)
local events = base .. 'events'
local watched = isWatched(events)
local results = {}

-- Each job's active-index field ('<stage>:<lane>:<entry ID>', sent as is), stage, lane, entry,
-- attempt and next stage, from its line.
local activeFieldOf, stageOf, laneOf, entryOf, attemptOf, nextStageOf = {}, {}, {}, {}, {}, {}
local lines = 0
for field, stage, lane, entryId, attempt, nextStage in string.gmatch(ARGV[valuesAt], '(([^:%s]+):([^:%s]+):(%S+)) (%S+) (%S*)\n') do
  lines = lines + 1
  activeFieldOf[lines], stageOf[lines], laneOf[lines], entryOf[lines], attemptOf[lines], nextStageOf[lines] = field, stage, lane, entryId, attempt, nextStage
end
if lines ~= n then return redis.error_reply('ERR complete: ' .. lines .. ' job lines for ' .. n .. ' jobs') end
-- The active-index lines, read at once: a running first attempt without a record (see
-- recordless) is checked and completed from its line.
local activeLines = {}
if n > 0 then activeLines = rcall('HMGET', KEYS[1], unpack(activeFieldOf)) end
-- Acks per stream (a stage's lane; the stage is the group), the index fields and the counters,
-- each sent once for all jobs.
local acks, ackOrder = {}, {}
local activeFields, dequeued = {}, {}
-- Queued-index lines of the jobs advanced to their next stage (see waitingEntry).
local waiting = {}
local completedPerStage = {}

local function ack(stage, lane, entryId)
  local lanes = acks[stage]
  if not lanes then lanes = {}; acks[stage] = lanes end
  local ids = lanes[lane]
  if not ids then
    ids = {}
    lanes[lane] = ids
    ackOrder[#ackOrder + 1] = { stage, lane, ids }
  end
  ids[#ids + 1] = entryId
end

-- A completion that goes ahead: its entry is acked, its active-index field dropped, and it is counted.
local function accept(i, stage, lane, entryId)
  ack(stage, lane, entryId)
  activeFields[#activeFields + 1] = activeFieldOf[i]
  completedPerStage[stage] = (completedPerStage[stage] or 0) + 1
end

-- GET /jobs/:id shows an output longer than its limit cut (see readJob), from the first HEAD_BYTES
-- of it kept beside it as `head:<field>`: cutting the field itself meant copying it whole into Lua
-- on every poll of the job, about 190 ms of Redis for a 20 MB text and 600 ms for a 64 MB one.
local HEAD_BYTES = 65536
local function keepHead(jobKey, field, output)
  if #output > HEAD_BYTES then rcall('HSET', jobKey, 'head:' .. field, string.sub(output, 1, HEAD_BYTES)) end
end

-- Writes a finished stage: advances the job to `nextStage`, or completes it. For a running first
-- attempt without a record (see recordless), `startedAt` and what follows are its line's, and its
-- record is written here; else they are nil.
local function finish(i, jobKey, jobId, stage, lane, output, nextStage, stages, entryId, startedAt, worker, opts, payload)
  if nextStage ~= '' then
    if startedAt then writeFirstAttempt(jobKey, stage, lane, entryId, jobId, startedAt, worker, opts, payload) end
    local entry = rcall('XADD', base .. nextStage .. ':' .. lane, '*', 'job', jobId)
    waiting[#waiting + 1] = jobId
    waiting[#waiting + 1] = waitingLine(nextStage, lane, entry)
    rcall('HSET', jobKey, 'out:' .. stage, output, 'stage', nextStage, 'status', 'queued', 'stages', stages,
      'entry', entry, 'attempts', '0', 'failures', '0', 'stalls', '0', 'queued_at', nowText, 'updated_at', nowText)
    keepHead(jobKey, 'out:' .. stage, output)
    rcall('HDEL', jobKey, 'stage_started_at', 'error')
    if watched then publishEvent(events, 'stage-completed', jobId, now, { stage = stage, next_stage = nextStage }) end
    results[i] = 2
  else
    -- One HSET; for a job without a record, its whole record (and a second for its options, if any).
    if startedAt then
      writeFirstAttempt(jobKey, stage, lane, entryId, jobId, startedAt, worker, opts, payload,
        'status', 'completed', 'result', output, 'stages', stages, 'finished_at', nowText, 'updated_at', nowText)
    else
      rcall('HSET', jobKey, 'status', 'completed', 'result', output, 'stages', stages, 'finished_at', nowText, 'updated_at', nowText)
    end
    keepHead(jobKey, 'result', output)
    rcall('EXPIRE', jobKey, retention)
    if watched then publishEvent(events, 'completed', jobId, now, { stage = stage }) end
    results[i] = 1
  end
end

for i = 1, n do
  local stage, lane, entryId, attempt, nextStage = stageOf[i], laneOf[i], entryOf[i], attemptOf[i], nextStageOf[i]
  local at = valuesAt + (i - 1) * 2
  local jobId, output = ARGV[at + 1], ARGV[at + 2]
  local jobKey = base .. 'job:' .. jobId
  local line = activeLines[i]
  local lineJob, startedAt, worker, opts, payload
  if line then lineJob, startedAt, worker, opts, payload = activeLineParts(line) end
  if lineJob == jobId then
    -- A running first attempt without a record: its line holds all the record needs.
    if attempt ~= '1' then
      results[i] = -2
    else
      accept(i, stage, lane, entryId)
      dequeued[#dequeued + 1] = jobId
      finish(i, jobKey, jobId, stage, lane, output, nextStage, firstStageTimings(stage, startedAt, worker, nowText),
        entryId, startedAt, worker, opts, payload)
    end
  else
    -- One read for the fencing check and everything the completion writes.
    local r = rcall('HMGET', jobKey, 'status', 'stage', 'entry', 'attempts', 'stages', 'stage_started_at', 'worker', 'error')
    local refusal = attemptRefusal(r, stage, entryId, attempt)
    if refusal then
      -- The record is gone (deleted by another client): the entry is acked, its field in the
      -- active index goes with it (it was left for good), and the job is dead-lettered as a take
      -- meeting the entry would (see recordLost), not left to vanish.
      if refusal == -1 then
        ack(stage, lane, entryId)
        activeFields[#activeFields + 1] = activeFieldOf[i]
        deadLetterRecordLost(base, jobKey, jobId, stage, lane, entryId, now, retention)
      end
      results[i] = refusal
    else
      accept(i, stage, lane, entryId)
      if r[8] and nextStage == '' then rcall('HDEL', jobKey, 'error') end
      finish(i, jobKey, jobId, stage, lane, output, nextStage, stageTimings(r[5], r[4], r[6], r[7], stage, now))
    end
  end
end

for _, batch in ipairs(ackOrder) do
  rcall('XACK', base .. batch[1] .. ':' .. batch[2], batch[1], unpack(batch[3]))
end
if #activeFields > 0 then rcall('HDEL', KEYS[1], unpack(activeFields)) end
if #dequeued > 0 then rcall('HDEL', base .. 'queued', unpack(dequeued)) end
if #waiting > 0 then rcall('HSET', base .. 'queued', unpack(waiting)) end
for stage, count in pairs(completedPerStage) do countEvent(base, now, 'completed', stage, count) end

local jobs, wait = {}, {}
if ctx then
  jobs, wait = takeFromLanes(ctx, { KEYS[#KEYS - 2], KEYS[#KEYS - 1], KEYS[#KEYS] }, tonumber(ARGV[15]), ARGV[16], tonumber(ARGV[17]), now)
end
keepFirstRun(base, token, keepMs, table.concat(results, ' '), jobs, ctx and ctx.deadOut)
return { results, jobs, wait, 0, ctx and ctx.deadOut or {} }
