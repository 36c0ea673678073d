--[[
  Enqueues one or more jobs on the first stage of a queue. Every check runs before any write,
  so a refused batch writes nothing.

  A plain job costs one stream entry (fields `job`, `payload`, and `opts` when it has options)
  and one field in the queued index; its record is written when a worker takes it. A job with
  a document or a run_at time gets its record now.

  KEYS[1] queued index hash
  KEYS[2] delayed sorted set

  ARGV[1] base
  ARGV[2] the stages of the queue's pipeline, space-separated, the first (where jobs are
          queued) first
  ARGV[3] idempotency key lifetime, seconds
  ARGV[4] most jobs the queue may hold undone (undelivered + pending in any of its stages, and
          its delayed and retrying jobs); 0 for no limit
  ARGV[5] number of jobs n
  ARGV[6] values per job: 8, or 0 for plain jobs (no more than the first three values each)
  then per job, when 8:
    id, lane, payload (JSON), options (JSON object or ''), document bytes ('' for none),
    run at (ms since the epoch; 0 for now), idempotency key (''), request fingerprint
  or, when 0, three texts of n lines each (no value holds a newline; JSON text never does):
    ARGV[7] the ids, ARGV[8] the lanes, ARGV[9] the payloads

  Output:
    {2}                                every job was created here (no idempotency key matched)
    {1, {id1, new1, id2, new2, ...}}   new is 1 for a job created here, 0 when an idempotency
                                       key matched an earlier job that still exists (whose ID
                                       is given instead)
    {-3, i}                            job i's idempotency key was used with another request
    {-4, backlog, limit}               the queue holds too much undone work (see ARGV[4])
]]
local rcall = redis.call
-- @include nowMs
-- @include publishEvent
-- @include countEvent
-- @include queueBacklog
-- @include recordless
-- @include lostJobs
-- @include waitingEntry

local base, stages = ARGV[1], ARGV[2]
local stage = string.match(stages, '^%S+')
local idemTtl, maxBacklog, n, FIELDS = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])

-- The k-th of the eight values of job i (see above); plain batches never ask.
local function jobArg(i, k)
  return ARGV[6 + (i - 1) * FIELDS + k]
end

-- Whether a job the API created still exists: until its record is written it is in the queued
-- index (see recordless), and a record is written before it leaves it. A job lost with its entry
-- (a client trimmed the stream: XADD MAXLEN, XTRIM, XDEL) is not one a key may answer with, found
-- or not yet (see lostJobs): the key is free.
local function jobExists(id)
  local jobKey = base .. 'job:' .. id
  if rcall('EXISTS', jobKey) == 1 then return not isLostRecord(jobKey) end
  local lane, entryId = queuedEntry(base, id)
  if not lane then return false end
  return not queuedJobLost(base, stage, lane, entryId)
end

-- Checks first. Plain jobs carry no idempotency key: all of them are new.
local outcome = {}
local seen = {}
local fresh = n
if FIELDS == 8 then
  fresh = 0
  for i = 1, n do
    local key, fingerprint = jobArg(i, 7), jobArg(i, 8)
    if key ~= '' then
      local earlier = seen[key]
      if not earlier then
        earlier = rcall('GET', base .. 'idem:' .. key)
        -- A key whose job is gone (its finished record expired, JOB_RETENTION being shorter than
        -- a key's life, or was deleted) is free again: the job created now takes it.
        if earlier and not jobExists(string.match(earlier, '^(%S+)')) then earlier = false end
      end
      if earlier then
        local sep = string.find(earlier, ' ', 1, true)
        if string.sub(earlier, sep + 1) ~= fingerprint then return { -3, i } end
        outcome[i] = string.sub(earlier, 1, sep - 1)
      else
        seen[key] = jobArg(i, 1) .. ' ' .. fingerprint
      end
    end
    if not outcome[i] then fresh = fresh + 1 end
  end
end

if maxBacklog > 0 and fresh > 0 then
  local backlog = queueBacklog(base, stages)
  if backlog + fresh > maxBacklog then return { -4, backlog, maxBacklog } end
end

-- Then writes. The queued-index lines of plain jobs go in one HSET at the end.
local now = nowMs()
local reply = {}
local indexLines = {}
local streams = {}
local events = base .. 'events'
local watched = isWatched(events)

-- The stage's stream of a lane, its name built once per call.
local function streamOf(lane)
  local stream = streams[lane]
  if not stream then
    stream = base .. stage .. ':' .. lane
    streams[lane] = stream
  end
  return stream
end

-- Every key of the queue written below is read first: one that another program filled with
-- another kind of value fails the call here, before any write, rather than halfway (a script's
-- writes stay), which stored jobs for a request answered 503 (see findForeignKeys).
local function usesLane(lane)
  if FIELDS == 0 then return string.find(ARGV[8], lane, 1, true) ~= nil end
  for i = 1, n do
    if jobArg(i, 2) == lane then return true end
  end
  return false
end
for _, lane in ipairs({ 'high', 'normal', 'low' }) do
  if usesLane(lane) then rcall('XLEN', streamOf(lane)) end
end
rcall('HLEN', KEYS[1])
rcall('ZCARD', KEYS[2])
rcall('HLEN', statsKey(base, now))

-- Plain jobs, the common batch: three texts instead of 3n arguments (building and sending a
-- command of thousands of arguments costs the client more than this script's splitting costs
-- Redis), and one XADD each, nothing else per job.
if FIELDS == 0 then
  local find, sub = string.find, string.sub
  local ids, lanes, payloads = ARGV[7], ARGV[8], ARGV[9]
  local atId, atLane, atPayload = 1, 1, 1
  -- The line of `text` that starts at `from`, and where the next one starts.
  local function lineAt(text, from)
    local stop = find(text, '\n', from, true)
    if not stop then return sub(text, from), #text + 2 end
    return sub(text, from, stop - 1), stop + 1
  end
  for _ = 1, n do
    local id, lane, payload
    id, atId = lineAt(ids, atId)
    lane, atLane = lineAt(lanes, atLane)
    payload, atPayload = lineAt(payloads, atPayload)
    local entry = rcall('XADD', streamOf(lane), '*', 'job', id, 'payload', payload)
    indexLines[#indexLines + 1] = id
    indexLines[#indexLines + 1] = lane .. ' ' .. entry
    if watched then publishEvent(events, 'queued', id, now, { stage = stage }) end
  end
  rcall('HSET', KEYS[1], unpack(indexLines))
  countEvent(base, now, 'enqueued', stage, n)
  return { 2 }
end

for i = 1, n do
  local id, lane, payload, options, document, runAt, key, fingerprint =
    jobArg(i, 1), jobArg(i, 2), jobArg(i, 3), jobArg(i, 4), jobArg(i, 5), tonumber(jobArg(i, 6)), jobArg(i, 7), jobArg(i, 8)
  if outcome[i] then
    reply[#reply + 1] = outcome[i]
    reply[#reply + 1] = 0
  else
    local stream = streamOf(lane)
    if document == '' and runAt <= now then
      local entry
      if options == '' then
        entry = rcall('XADD', stream, '*', 'job', id, 'payload', payload)
      else
        entry = rcall('XADD', stream, '*', 'job', id, 'payload', payload, 'opts', options)
      end
      indexLines[#indexLines + 1] = id
      indexLines[#indexLines + 1] = lane .. ' ' .. entry
      if watched then publishEvent(events, 'queued', id, now, { stage = stage }) end
    else
      local jobKey = base .. 'job:' .. id
      rcall('HSET', jobKey, 'id', id, 'queue', string.match(id, '^([^:]+)'), 'stage', stage, 'lane', lane,
        'payload', payload, 'attempts', 0, 'created_at', now, 'updated_at', now)
      if options ~= '' then
        local opts = cjson.decode(options)
        if opts['max_attempts'] then rcall('HSET', jobKey, 'max_attempts', opts['max_attempts']) end
        if opts['timeout_ms'] then rcall('HSET', jobKey, 'timeout_ms', opts['timeout_ms']) end
        if opts['backoff'] then rcall('HSET', jobKey, 'backoff', cjson.encode(opts['backoff'])) end
      end
      if document ~= '' then rcall('HSET', jobKey, 'doc', document) end
      if runAt > now then
        rcall('HSET', jobKey, 'status', 'delayed', 'run_at', runAt)
        rcall('ZADD', KEYS[2], runAt, id)
        publishEvent(events, 'delayed', id, now, { stage = stage, run_at = runAt })
      else
        local entry = rcall('XADD', stream, '*', 'job', id)
        rcall('HSET', jobKey, 'status', 'queued', 'entry', entry, 'queued_at', now)
        indexLines[#indexLines + 1] = id
        indexLines[#indexLines + 1] = waitingLine(stage, lane, entry)
        publishEvent(events, 'queued', id, now, { stage = stage })
      end
    end
    -- Only the first job of the call with a key gets here (the rest matched it above), and the
    -- key was unset or free when checked: it is this job's now.
    if key ~= '' then rcall('SET', base .. 'idem:' .. key, id .. ' ' .. fingerprint, 'EX', idemTtl) end
    reply[#reply + 1] = id
    reply[#reply + 1] = 1
  end
end
if #indexLines > 0 then rcall('HSET', KEYS[1], unpack(indexLines)) end
if fresh > 0 then countEvent(base, now, 'enqueued', stage, fresh) end
if fresh == n then return { 2 } end
return { 1, reply }
