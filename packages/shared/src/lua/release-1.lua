--[[
  Lets go of jobs a stopping worker still holds, so another worker takes them at once: each
  entry gets an idle time of `idle` ms (at least the worker's lease, which stays named in the
  leases hash after it leaves), which makes it claimable by the next takeover, and the record
  says `queued` again, so the interrupted attempt counts neither as a failure nor as a stall. Jobs whose attempt is no longer current are skipped. A job whose entry
  was deleted from the stream fails its attempt instead, and is queued again on a new entry.

  KEYS[1] active hash

  ARGV[1] base
  ARGV[2] consumer
  ARGV[3] idle time to give each entry (ms)
  ARGV[4] default max attempts
  ARGV[5] retention of finished records, seconds
  ARGV[6] this call's token, and ARGV[7] how long (ms) to keep its count: see repeatedCall
  then 5 values per held job: stage, lane, entry ID, job ID, attempt

  Output: how many jobs were released; sent again (the same token), the first run's count.
]]
local rcall = redis.call
-- @include checkAttempt
-- @include nowMs
-- @include publishEvent
-- @include failLostEntry
-- @include waitingEntry
-- @include repeatedCall

local base, consumer, idle = ARGV[1], ARGV[2], ARGV[3]
local repeated = firstRunNumber(base, ARGV[6])
if repeated then return repeated end
local released = 0
local now = nowMs()
local n = (#ARGV - 7) / 5
for i = 1, n do
  local at = 7 + (i - 1) * 5
  local stage, lane, entryId, jobId, attempt = ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4], ARGV[at + 5]
  local jobKey = base .. 'job:' .. jobId
  if not checkAttempt(jobKey, stage, entryId, attempt, base, lane, true) then
    local claimed = rcall('XCLAIM', base .. stage .. ':' .. lane, stage, consumer, 0, entryId, 'IDLE', idle, 'JUSTID')
    if #claimed == 0 then
      failLostEntry({ base = base, stage = stage, activeKey = KEYS[1], defaultMaxAttempts = tonumber(ARGV[4]), retentionSeconds = tonumber(ARGV[5]) }, lane, entryId, now)
    else
      rcall('HSET', jobKey, 'status', 'queued', 'updated_at', now)
      rcall('HDEL', base .. 'active', stage .. ':' .. lane .. ':' .. entryId)
      -- Its entry waits for a takeover now (see waitingEntry): should another client delete it,
      -- the takeover drops it from the PEL without a job to fail, and a walk queues the job again.
      rcall('HSET', base .. 'queued', jobId, waitingLine(stage, lane, entryId))
      publishEvent(base .. 'events', 'released', jobId, now, { stage = stage, attempt = tonumber(attempt) })
    end
    released = released + 1
  end
end
if released > 0 then keepFirstRun(base, ARGV[6], ARGV[7], tostring(released), {}) end
return released
