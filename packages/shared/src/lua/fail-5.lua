--[[
  Records a failed attempt of the current stage, in one atomic step: the entry is acked, the
  error added to the record's history, and the job is either scheduled for a retry (status
  `retrying`, in the delayed set until its backoff has passed) or dead-lettered when it has no
  attempts left or its error is not worth retrying.
  A late or duplicate failure, from a worker whose lease was lost, is refused. Failed attempts
  are counted apart from stalls (see startJob): max attempts limits failures.

  KEYS[1] stream the entry was read from
  KEYS[2] job record
  KEYS[3] active hash
  KEYS[4] delayed sorted set
  KEYS[5] dead stream

  ARGV[1] base
  ARGV[2] stage (the group name)
  ARGV[3] lane
  ARGV[4] entry ID
  ARGV[5] attempt the worker was given
  ARGV[6] error (JSON: message, name, code, retryable ...)
  ARGV[7] retry after this many ms; -1 never (the error is not retryable)
  ARGV[8] default max attempts
  ARGV[9] retention of finished records, seconds
  ARGV[10] this call's token, and ARGV[11] how long (ms) to keep its outcome: see repeatedCall

  Output: 1 scheduled for a retry, 2 dead-lettered, -1 no record, -2 not the current attempt;
  sent again (the same token), the first run's.
]]
local rcall = redis.call
-- @include nowMs
-- @include publishEvent
-- @include checkAttempt
-- @include appendError
-- @include deadLetter
-- @include countEvent
-- @include repeatedCall
-- @include recordLost

local jobKey, stage, lane, entryId = KEYS[2], ARGV[2], ARGV[3], ARGV[4]
local repeated = firstRunNumber(ARGV[1], ARGV[10])
if repeated then return repeated end
local refusal = checkAttempt(jobKey, stage, entryId, ARGV[5], ARGV[1], lane, true)
if refusal then
  -- The record is gone (deleted by another client): the entry is acked, its active-index field
  -- goes with it, and the job is dead-lettered (see recordLost).
  if refusal == -1 then
    rcall('XACK', KEYS[1], stage, entryId)
    rcall('HDEL', KEYS[3], stage .. ':' .. lane .. ':' .. entryId)
    deadLetterRecordLost(ARGV[1], jobKey, string.sub(jobKey, #ARGV[1] + 5), stage, lane, entryId, nowMs(), tonumber(ARGV[9]))
    -- Kept, as an outcome recorded is: sent again after its reply was lost, the call would meet
    -- the dead record and say the attempt was not current, and the worker would not count it.
    keepFirstRun(ARGV[1], ARGV[10], ARGV[11], '-1', {})
  end
  return refusal
end

local now = nowMs()
-- Every key written below is read first: one that another program filled with another kind of
-- value fails the script here, before any write, rather than halfway (a script's writes stay),
-- which left the job active with nothing to run it (see findForeignKeys).
rcall('XLEN', KEYS[5])
rcall('ZCARD', KEYS[4])
rcall('HLEN', statsKey(ARGV[1], now))
local r = rcall('HMGET', jobKey, 'id', 'attempts', 'max_attempts', 'default_max_attempts')
local jobId = r[1]
local failures = rcall('HINCRBY', jobKey, 'failures', 1)
rcall('XACK', KEYS[1], stage, entryId)
rcall('HDEL', KEYS[3], stage .. ':' .. lane .. ':' .. entryId)
appendError(jobKey, ARGV[6])
publishEvent(ARGV[1] .. 'events', 'failed', jobId, now, { stage = stage, attempt = tonumber(r[2]), error = cjson.decode(ARGV[6]) })
countEvent(ARGV[1], now, 'failed', stage)

local delay = tonumber(ARGV[7])
-- A stored limit that is not a number (an old record, another producer's) counts as the default.
local limit = tonumber(r[3]) or tonumber(r[4]) or tonumber(ARGV[8])
-- A job without a limit of its own keeps the default its first failure was judged by (this
-- worker's MAX_ATTEMPTS), so its later failures and every view of it (the API's MAX_ATTEMPTS may
-- differ) use that one, until a retry from the dead letters (retryDead) lets it go.
if not tonumber(r[3]) and not tonumber(r[4]) then rcall('HSET', jobKey, 'default_max_attempts', limit) end
if delay >= 0 and failures < limit then
  local due = now + delay
  rcall('ZADD', KEYS[4], due, jobId)
  rcall('HSET', jobKey, 'status', 'retrying', 'retry_at', due, 'updated_at', now)
  publishEvent(ARGV[1] .. 'events', 'retrying', jobId, now, { stage = stage, retry_at = due })
  countEvent(ARGV[1], now, 'retried', stage)
  keepFirstRun(ARGV[1], ARGV[10], ARGV[11], '1', {})
  return 1
end

deadLetter(ARGV[1], jobKey, jobId, now, ARGV[6], tonumber(ARGV[9]))
keepFirstRun(ARGV[1], ARGV[10], ARGV[11], '2', {})
return 2
