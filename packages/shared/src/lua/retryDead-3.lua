--[[
  Gives a dead-lettered job another run: it is queued again on the stage where it died, with
  the same job ID, a fresh count of attempts, and its error history kept. Its copy leaves the
  dead stream, and its record no longer expires. It counts as enqueued again, on that stage, so
  that what a queue took in still adds up to what it finished and what it holds.

  KEYS[1] job record
  KEYS[2] dead stream

  ARGV[1] base
  ARGV[2] job ID
  ARGV[3] first stage of the queue (where a job without a record is)
  ARGV[4] the stages of the queue's pipeline, space-separated (for the backlog count)
  ARGV[5] most jobs the queue may hold undone (see enqueue's ARGV[4]); 0 for no limit

  KEYS[3] queued index hash (a job still queued there has no record yet)

  Output: {1}           queued again
          {-1}          no such job (its record expired with the retention period)
          {-6, status}  the job is not dead
          {-4, backlog, limit}  the queue holds too much undone work: nothing was written
          {-7, code}    the job's input is gone: code ENTRY_LOST, lost with its stream entry (see
                        lostJobs), or RECORD_LOST, with its record (see startJob)
]]
local rcall = redis.call
-- @include nowMs
-- @include publishEvent
-- @include recordless
-- @include queueBacklog
-- @include lostJobs
-- @include waitingEntry
-- @include countEvent

local jobKey, base = KEYS[1], ARGV[1]
local r = rcall('HMGET', jobKey, 'status', 'stage', 'lane', 'dead_entry', 'id')
if not r[1] then
  local lane, entryId = queuedEntry(base, ARGV[2])
  if lane then
    if queuedJobLost(base, ARGV[3], lane, entryId) then return { -7, 'ENTRY_LOST' } end
    local running = recordlessAttempt(base, ARGV[3], lane, entryId)
    return { -6, running and 'active' or 'queued' }
  end
  return { -1 }
end
if r[1] ~= 'dead' then return { -6, r[1] } end
if isLostRecord(jobKey) then
  local code = string.match(rcall('HGET', jobKey, 'error') or '', '"code":"([%w_]+)"')
  return { -7, code == 'RECORD_LOST' and code or 'ENTRY_LOST' }
end
local maxBacklog = tonumber(ARGV[5])
if maxBacklog > 0 then
  local backlog = queueBacklog(base, ARGV[4])
  if backlog + 1 > maxBacklog then return { -4, backlog, maxBacklog } end
end
local now = nowMs()
local stream = base .. r[2] .. ':' .. r[3]
-- Every key written below is read first, so that one another program filled with another kind of
-- value refuses the retry whole (a script's writes stay) rather than leave it half done.
rcall('XLEN', stream)
rcall('XLEN', KEYS[2])
rcall('HLEN', KEYS[3])
rcall('HLEN', statsKey(base, now))
local entry = rcall('XADD', stream, '*', 'job', r[5])
rcall('HSET', jobKey, 'status', 'queued', 'entry', entry, 'attempts', 0, 'failures', 0, 'stalls', 0,
  'queued_at', now, 'updated_at', now)
rcall('HINCRBY', jobKey, 'retried', 1)
rcall('HSET', KEYS[3], r[5], waitingLine(r[2], r[3], entry))
-- The default max attempts its failures were judged by goes: the workers' MAX_ATTEMPTS now applies.
rcall('HDEL', jobKey, 'finished_at', 'dead_entry', 'stage_started_at', 'default_max_attempts')
rcall('PERSIST', jobKey)
if r[4] then rcall('XDEL', KEYS[2], r[4]) end
countEvent(base, now, 'enqueued', r[2])
publishEvent(base .. 'events', 'queued', r[5], now, { stage = r[2], retried = true })
return { 1 }
