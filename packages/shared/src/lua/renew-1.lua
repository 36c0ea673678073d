--[[
  Renews the leases of the jobs a worker holds: for each job whose record still shows this
  worker's attempt as current, its entry is XCLAIMed for the same consumer with JUSTID, which
  resets the entry's idle time without counting a delivery. A job whose attempt is no longer
  current (taken over after a lapsed lease, or cancelled) is reported lost: its worker must stop.
  So is a job whose entry was deleted from the stream (XCLAIM then drops it from the PEL and
  returns nothing): its attempt fails, and the job is queued again or dead-lettered.

  KEYS[1] active hash (routes the call to the queue's slot)

  ARGV[1] base
  ARGV[2] consumer
  ARGV[3] default max attempts
  ARGV[4] retention of finished records, seconds
  ARGV[5] the worker's lease (ms) and ARGV[6] how long to keep it named (ms): see leaseNames
  then 5 values per held job: stage, lane, entry ID, job ID, attempt

  Output: the 1-based positions of the jobs that are lost.
]]
local rcall = redis.call
-- @include checkAttempt
-- @include failLostEntry
-- @include leaseNames

local base, consumer = ARGV[1], ARGV[2]
local lost = {}
local now = nowMs()
-- Named here too: a draining worker says no more words, but holds jobs until its grace ends.
nameLease(base .. 'leases', consumer, ARGV[5], ARGV[6], now)
local n = (#ARGV - 6) / 5
for i = 1, n do
  local at = 6 + (i - 1) * 5
  local stage, lane, entryId, jobId, attempt = ARGV[at + 1], ARGV[at + 2], ARGV[at + 3], ARGV[at + 4], ARGV[at + 5]
  if checkAttempt(base .. 'job:' .. jobId, stage, entryId, attempt, base, lane) then
    table.insert(lost, i)
  else
    local claimed = rcall('XCLAIM', base .. stage .. ':' .. lane, stage, consumer, 0, entryId, 'JUSTID')
    if #claimed == 0 then
      failLostEntry({ base = base, stage = stage, activeKey = KEYS[1], defaultMaxAttempts = tonumber(ARGV[3]), retentionSeconds = tonumber(ARGV[4]) }, lane, entryId, now)
      table.insert(lost, i)
    end
  end
end
return lost
