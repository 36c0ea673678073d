-- @include startJob
-- A call sent twice. When a worker's connection is lost while a call's reply is on its way (a
-- Redis frozen past REDIS_TIMEOUT, a connection dropped), its client sends the call again on the
-- next connection, and Redis may already have run it from the old one. A take run twice took two
-- batches: the first batch's jobs, whose reply was lost, sat started but held by nobody until
-- their lease lapsed and another worker took them over (a stall each); completions run twice
-- were refused the second time, and the worker logged their results as dropped.
--
-- So each call that takes jobs or records outcomes carries a token (unique per call, the same
-- when sent again), and its first run keeps what it did under <base>call:<token> for `keepMs`
-- (the lease and a minute more: see keepCallMs in call-token.ts, for a Redis that froze just
-- after it ran the call). A second run replies the same, from that:
--   '<what the script replies besides jobs>\n<lane> <entry ID> <attempt> ...\n<deadOut lines>'
-- (the last: the jobs the first run dead-lettered, see deadOut in stageContext; its reply lost,
-- the worker has not logged or counted them yet).
-- The jobs are read again as they are now, and only those still held by the same attempt of
-- the same consumer are replied (none is run twice).

-- The key of what a call's first run did.
local function callKey(base, token)
  return base .. 'call:' .. token
end

-- What the first run of this call kept (see keepFirstRun), or nil when this is the first run.
local function firstRun(base, token)
  return rcall('GET', callKey(base, token)) or nil
end

-- The number the first run of this call replied (a call whose reply is one number, kept as its
-- head), or nil when this is the first run.
local function firstRunNumber(base, token)
  local kept = firstRun(base, token)
  return kept and tonumber(string.match(kept, '^(%S+)'))
end

-- Keeps what this run did: `head` (the reply besides the jobs, text without a newline), the
-- jobs it started (job lines, see jobLine) and those it dead-lettered (`deadOut`, lines without
-- a newline), for `keepMs`. Nothing when nothing happened.
local function keepFirstRun(base, token, keepMs, head, jobs, deadOut)
  deadOut = deadOut or {}
  if head == '' and #jobs == 0 and #deadOut == 0 then return end
  local held = {}
  for i, line in ipairs(jobs) do held[i] = string.match(line, '^%S+ (%S+ %S+ %S+)') end
  rcall('SET', callKey(base, token), head .. '\n' .. table.concat(held, ' ') .. '\n' .. table.concat(deadOut, '\n'), 'PX', keepMs)
end

-- The line of a job ctx.consumer holds at this entry with this attempt, as startJob gave it; nil
-- when it is no longer held so (finished, cancelled, taken over).
local function heldJobLine(ctx, lane, entryId, attempt)
  local line = rcall('HGET', ctx.activeKey, ctx.stage .. ':' .. lane .. ':' .. entryId)
  if not line then return nil end
  local jobId, _, worker, opts, payload = activeLineParts(line)
  if jobId then
    -- A running first attempt without a record: its active-index line holds all of it.
    if worker ~= ctx.consumer or attempt ~= '1' then return nil end
    local maxAttempts, timeoutMs, backoff = optionsOf(opts)
    local createdAt = string.match(entryId, '^(%d+)')
    return jobLine(jobId, lane, entryId, '1', maxAttempts or ctx.defaultMaxAttemptsText, payload, '', '0', timeoutMs, backoff, createdAt, createdAt)
  end
  local jobKey = ctx.base .. 'job:' .. line
  local rec = rcall('HMGET', jobKey, 'status', 'stage', 'entry', 'attempts', 'worker', 'max_attempts', 'payload', 'timeout_ms', 'backoff', 'created_at', 'queued_at')
  if rec[1] ~= 'active' or rec[2] ~= ctx.stage or rec[3] ~= entryId or rec[4] ~= attempt or rec[5] ~= ctx.consumer then return nil end
  local input, inputLength = inputOf(jobKey, ctx.previousStage)
  return jobLine(line, lane, entryId, attempt, rec[6] or ctx.defaultMaxAttemptsText, rec[7], input, inputLength, rec[8], rec[9], rec[10], rec[11] or rec[10])
end

-- The first run's reply besides its jobs (`head`), its jobs still held (see heldJobLine), for
-- each of those its place among the first run's jobs, and the jobs it dead-lettered.
local function replayFirstRun(ctx, kept)
  local head, held, dead = string.match(kept, '^(.-)\n([^\n]*)\n?(.*)$')
  local deadOut = {}
  for line in string.gmatch(dead, '[^\n]+') do deadOut[#deadOut + 1] = line end
  local jobs, places, place = {}, {}, 0
  for lane, entryId, attempt in string.gmatch(held, '(%S+) (%S+) (%S+)') do
    place = place + 1
    local line = ctx and heldJobLine(ctx, lane, entryId, attempt)
    if line then
      jobs[#jobs + 1] = line
      places[#places + 1] = place
    end
  end
  return head, jobs, places, deadOut
end
