-- A job the API queues has no record until something needs one. Its entry holds its payload;
-- the queued index (<base>queued, field = job ID → '<lane> <entry ID>') finds its entry by ID.
-- Most jobs finish their first attempt, so their record is written once, when that attempt ends
-- (complete), instead of at the start and again at the end.
--
-- While its first attempt runs, the job's line in the active index (<base>active, field
-- '<stage>:<lane>:<entry ID>', otherwise just the job ID) says so and carries a copy of its entry:
--   '<job ID> <started at ms> <consumer> <length of opts> <opts><payload>'
-- so the attempt can be checked without a record, and a job whose entry is deleted under it
-- (XDEL or MAXLEN by another client) keeps its payload and can run again. Anything other than
-- completion that touches such a job (a failure, progress, a release, a cancel, a takeover after
-- a lapsed lease, a lost entry) first writes the record the attempt would have had
-- (materialize), which turns the line back into the bare job ID, then goes on as for any job.

-- The active-index line of the running first attempt of a job without a record; `opts` is the
-- entry's options text or false (then its length is the literal '0', not a number to format).
local function runningLine(jobId, startedAt, consumer, opts, payload)
  return jobId .. ' ' .. startedAt .. ' ' .. consumer .. ' ' .. (opts and #opts .. ' ' .. opts or '0 ') .. payload
end

-- The parts of a running first attempt's line: job ID, started at, worker, opts (or false) and
-- payload; nil for any other line (a bare job ID). Values, not a table: completions read one
-- line per job.
local function activeLineParts(line)
  local jobId, startedAt, worker, length, from = string.match(line, '^(%S+) (%d+) (%S+) (%d+) ()')
  if not jobId then return nil end
  if length == '0' then return jobId, startedAt, worker, false, string.sub(line, from) end
  length = tonumber(length)
  return jobId, startedAt, worker, string.sub(line, from, from + length - 1), string.sub(line, from + length)
end

-- An active-index line: {jobId = ...}, with startedAt, worker and map (the entry's fields) when
-- it is a running first attempt without a record.
local function parseActiveLine(line)
  local jobId, startedAt, worker, opts, payload = activeLineParts(line)
  if not jobId then return { jobId = line } end
  local map = { job = jobId, payload = payload }
  if opts then map['opts'] = opts end
  return { jobId = jobId, startedAt = startedAt, worker = worker, map = map }
end

-- The running first attempt without a record that an active-index line (or false) shows, or nil.
local function runningAttempt(line)
  if not line then return nil end
  local parsed = parseActiveLine(line)
  if not parsed.map then return nil end
  return parsed
end

-- The running first attempt without a record held under this active-index field, or nil.
local function recordlessAttempt(base, stage, lane, entryId)
  return runningAttempt(rcall('HGET', base .. 'active', stage .. ':' .. lane .. ':' .. entryId))
end

-- A whole number from `min` to `max` as text, or false for anything else.
local function wholeNumber(value, min, max)
  if type(value) ~= 'number' or value ~= math.floor(value) or value < min or value > max then return false end
  return string.format('%d', value)
end

-- The options an API job's entry carries (`opts`, its text, or false): max attempts, timeout,
-- backoff, as strings or false. The API writes them valid; another producer that writes the field
-- may not, and a value that is not what the API would write is left out (the default applies):
-- an error here would fail the whole take after its read, leaving every entry read with it
-- delivered and never started.
local function optionsOf(opts)
  if not opts then return false, false, false end
  local ok, decoded = pcall(cjson.decode, opts)
  if not ok or type(decoded) ~= 'table' then return false, false, false end
  local backoff = type(decoded['backoff']) == 'table' and cjson.encode(decoded['backoff'])
  -- A backoff the API writes is ASCII. Bytes that are not UTF-8 would be read by the worker's
  -- client as U+FFFD, three bytes each, and every length in the job line after them would be off.
  if backoff and string.find(backoff, '[\128-\255]') then backoff = false end
  return wholeNumber(decoded['max_attempts'], 1, 100), wholeNumber(decoded['timeout_ms'], 1, 86400000), backoff or false
end

-- The same from an entry's fields as a map.
local function entryOptions(map)
  return optionsOf(map['opts'] or false)
end

-- Writes the record a running first attempt without a record gives its job, with `...` (field,
-- value pairs: its status and what follows from it) in the same HSET. Every field is an argument
-- of one call: no table is built and unpacked, once per job of a completion batch. `startedAt`,
-- `worker`, `opts` and `payload` are its line's (see activeLineParts).
local function writeFirstAttempt(jobKey, stage, lane, entryId, jobId, startedAt, worker, opts, payload, ...)
  local createdAt = string.match(entryId, '^(%d+)')
  rcall('HSET', jobKey, 'id', jobId, 'queue', string.match(jobId, '^([^:]+)'), 'stage', stage, 'lane', lane,
    'payload', payload, 'created_at', createdAt, 'queued_at', createdAt, 'attempts', '1',
    'entry', entryId, 'worker', worker, 'started_at', startedAt, ...)
  if opts then
    local maxAttempts, timeoutMs, backoff = optionsOf(opts)
    local fields = {}
    if maxAttempts then fields[#fields + 1] = 'max_attempts'; fields[#fields + 1] = maxAttempts end
    if timeoutMs then fields[#fields + 1] = 'timeout_ms'; fields[#fields + 1] = timeoutMs end
    if backoff then fields[#fields + 1] = 'backoff'; fields[#fields + 1] = backoff end
    if #fields > 0 then rcall('HSET', jobKey, unpack(fields)) end
  end
end

-- Writes the record of a running first attempt without a record, as it would have been written
-- when the attempt started. `stage` is the queue's first stage, where every job without a record is.
local function materialize(base, stage, lane, entryId, running)
  writeFirstAttempt(base .. 'job:' .. running.jobId, stage, lane, entryId, running.jobId, running.startedAt, running.worker,
    running.map['opts'] or false, running.map['payload'], 'status', 'active', 'stage_started_at', running.startedAt, 'updated_at', running.startedAt)
  rcall('HDEL', base .. 'queued', running.jobId)
  rcall('HSET', base .. 'active', stage .. ':' .. lane .. ':' .. entryId, running.jobId)
end

-- Which of these entries of one lane, just delivered for the first time, are jobs the API queued
-- whose first attempt has not started: the queued index still points at the entry, so the job has
-- no record (a cancel, and anything else that writes the record, removes its line). One read for
-- the whole batch instead of a check per job. Returns true or false by the entries' positions.
local function unstartedJobs(base, lane, entries)
  local ids, positions, unstarted = {}, {}, {}
  for i, entry in ipairs(entries) do
    local fields = entry[2]
    unstarted[i] = false
    if fields[1] == 'job' and fields[3] == 'payload' then
      ids[#ids + 1] = fields[2]
      positions[#positions + 1] = i
    end
  end
  if #ids == 0 then return unstarted end
  local lines = rcall('HMGET', base .. 'queued', unpack(ids))
  for k, i in ipairs(positions) do
    unstarted[i] = lines[k] == lane .. ' ' .. entries[i][1]
  end
  return unstarted
end

-- The lane and entry ID of a job without a record, from the queued index; nil when it has none.
local function queuedEntry(base, jobId)
  local line = rcall('HGET', base .. 'queued', jobId)
  if not line then return nil end
  return string.match(line, '^(%S+) (%S+)$')
end
