--[[
  Takes over entries of one stage whose lease lapsed: entries held longer than their holder's
  lease (the holder died, hung, or was cut off and stopped renewing; see lapsedEntries) are
  claimed for this consumer, oldest first, and started again as a new attempt.

  Entries that were deleted from the stream while pending (XCLAIM drops them from the pending
  list and returns nothing) fail their attempt: their job is queued again or dead-lettered, never
  dropped.

  KEYS[1..3] streams of the stage's high, normal and low lanes
  KEYS[4] active hash
  KEYS[5] leases hash (see leaseNames)

  ARGV[1..9] base, queue, stage, previous stage, consumer, default max attempts, retention (s),
             max stalls, first stage
  ARGV[10] count: most jobs to take over now
  ARGV[11] the lease (ms) of a holder the leases hash does not name: the asking worker's own
  ARGV[12] lanes to scan, a flag per lane ('111')
  ARGV[13] this call's token, and ARGV[14] how long (ms) to keep what it took: see repeatedCall

  Output: {jobs, lost, released, repeated, stalledOut}: job lines (see jobLine), how many deleted
  entries' attempts were failed (not a released job's, which no attempt runs: the look through the
  waiting jobs queues it again), for each job 1 when its last holder released it (a stopping
  worker) rather than let its lease lapse, else 0, then 0, and the jobs dead-lettered instead of
  started (see deadOut in stageContext), for the worker to log and count. Sent again (the same
  token), it replies what its first run took over and is still held, 1, and the jobs it dead-lettered.
]]
local rcall = redis.call
-- @include startJob
-- @include failLostEntry
-- @include stageContext
-- @include repeatedCall
-- @include lapsedEntries

local ctx = stageContext(KEYS[4])
local kept = firstRun(ctx.base, ARGV[13])
if kept then
  local head, jobs, places, deadOut = replayFirstRun(ctx, kept)
  local lost, flags = string.match(head, '^(%d+) (%d*)$')
  local released = {}
  for i, place in ipairs(places) do released[i] = tonumber(string.sub(flags, place, place)) end
  return { jobs, tonumber(lost), released, 1, deadOut }
end
local wanted, fallbackLease = tonumber(ARGV[10]), tonumber(ARGV[11])
local laneNames = { 'high', 'normal', 'low' }
local now = nowMs()
local jobs, lost, released = {}, 0, {}

for i = 1, 3 do
  if #jobs >= wanted then break end
  if string.sub(ARGV[12], i, i) == '1' then
    for _, entryId in ipairs(lapsedEntries(KEYS[i], ctx.group, KEYS[5], fallbackLease, wanted - #jobs)) do
      -- Lapsed a moment ago in this same script: nothing can have renewed it since.
      local claimed = rcall('XCLAIM', KEYS[i], ctx.group, ctx.consumer, 0, entryId)[1]
      if claimed then
        local job, wasReleased = startJob(ctx, KEYS[i], laneNames[i], claimed[1], claimed[2], now)
        if job then
          table.insert(jobs, job)
          table.insert(released, wasReleased and 1 or 0)
        end
      elseif failLostEntry(ctx, laneNames[i], entryId, now) then
        lost = lost + 1
      end
    end
  end
end
keepFirstRun(ctx.base, ARGV[13], ARGV[14], (#jobs + lost + #ctx.deadOut > 0) and (lost .. ' ' .. table.concat(released)) or '', jobs, ctx.deadOut)
return { jobs, lost, released, 0, ctx.deadOut }
