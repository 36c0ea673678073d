--[[
  Moves jobs whose retry backoff or run_at time has passed from the delayed set back to their
  stage's stream. Any worker may run it at any time: a job leaves the set in the same atomic
  step that queues it, so no job is promoted twice.

  KEYS[1] delayed sorted set

  ARGV[1] base
  ARGV[2] most jobs to move in one call
  ARGV[3] retention of finished records, seconds

  Output: {moved, next, lost}: the IDs of the jobs queued, how long (ms, by Redis's clock) until
          the next waiting job is due, or -1 when none waits, and the IDs of the due jobs whose
          record another client deleted meanwhile, dead-lettered RECORD_LOST (see recordLost).
]]
local rcall = redis.call
-- @include nowMs
-- @include publishEvent
-- @include waitingEntry
-- @include recordLost

local base = ARGV[1]
local now = nowMs()
local due = rcall('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local moved, lost = {}, {}
for _, jobId in ipairs(due) do
  local jobKey = base .. 'job:' .. jobId
  local r = rcall('HMGET', jobKey, 'status', 'stage', 'lane')
  rcall('ZREM', KEYS[1], jobId)
  if r[1] == 'retrying' or r[1] == 'delayed' then
    local entry = rcall('XADD', base .. r[2] .. ':' .. r[3], '*', 'job', jobId)
    rcall('HSET', jobKey, 'status', 'queued', 'entry', entry, 'queued_at', now, 'updated_at', now)
    rcall('HSET', base .. 'queued', jobId, waitingLine(r[2], r[3], entry))
    rcall('HDEL', jobKey, 'retry_at', 'run_at')
    publishEvent(base .. 'events', 'queued', jobId, now, { stage = r[2] })
    moved[#moved + 1] = jobId
  elseif not r[1] then
    -- Its record, which held its input, was deleted while it waited: said so, not dropped
    -- without a trace (its stage and lane went with the record).
    deadLetterRecordLost(base, jobKey, jobId, '', '', '', now, ARGV[3])
    lost[#lost + 1] = jobId
  end
end
local following = rcall('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local dueIn = -1
if following[2] then dueIn = math.max(0, tonumber(following[2]) - now) end
return { moved, dueIn, lost }
