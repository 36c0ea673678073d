--[[
  Takes over entries of one stage whose lease lapsed: entries pending longer than `minIdle`
  (the holder died, hung, or was cut off and stopped renewing) are claimed with XAUTOCLAIM for
  this consumer and started again as a new attempt. XAUTOCLAIM scans at most COUNT x 10 PEL
  entries per call, so it starts at the first lapsed entry (XPENDING's IDLE filter finds it
  however many live workers' entries come before it) and continues from its cursor within this
  call.

  Entries that were deleted from the stream while pending (Redis 7 reports them in XAUTOCLAIM's
  third element) fail their attempt: their job is queued again or dead-lettered, never dropped.

  KEYS[1..3] streams of the stage's high, normal and low lanes
  KEYS[4] active hash

  ARGV[1..9] base, queue, stage, previous stage, consumer, default max attempts, retention (s),
             max stalls, first stage
  ARGV[10] count: most jobs to take over now
  ARGV[11] min idle (ms): the lease
  ARGV[12] lanes to scan, a flag per lane ('111')
  ARGV[13] this call's token, and ARGV[14] how long (ms) to keep what it took: see repeatedCall

  Output: {jobs, lost, released}: job lines (see jobLine), how many deleted entries were failed,
  and for each job 1 when its last holder released it (a stopping worker) rather than let its
  lease lapse, else 0. Sent again (the same token), it replies what its first run took over and
  is still held, and a fourth element, 1.
]]
local rcall = redis.call
-- @include startJob
-- @include failLostEntry
-- @include stageContext
-- @include repeatedCall

local ctx = stageContext(KEYS[4])
local kept = firstRun(ctx.base, ARGV[13])
if kept then
  local head, jobs, places = replayFirstRun(ctx, kept)
  local lost, flags = string.match(head, '^(%d+) (%d*)$')
  local released = {}
  for i, place in ipairs(places) do released[i] = tonumber(string.sub(flags, place, place)) end
  return { jobs, tonumber(lost), released, 1 }
end
local wanted, minIdle = tonumber(ARGV[10]), ARGV[11]
local laneNames = { 'high', 'normal', 'low' }
local now = nowMs()
local jobs, lost, released = {}, 0, {}

for i = 1, 3 do
  -- XAUTOCLAIM refuses COUNT 0 with an error, and a script error after a claim would leave
  -- that job started but unheld: stop before asking for nothing.
  if #jobs >= wanted then break end
  if string.sub(ARGV[12], i, i) == '1' then
    -- From the start of the pending list, a worker with one free slot would look at 100 entries
    -- and never reach a lapsed one behind a large fleet's held jobs.
    local first = rcall('XPENDING', KEYS[i], ctx.group, 'IDLE', minIdle, '-', '+', 1)[1]
    if first then
      local cursor, scans = first[1], 0
      repeat
        local reply = rcall('XAUTOCLAIM', KEYS[i], ctx.group, ctx.consumer, minIdle, cursor, 'COUNT', wanted - #jobs)
        cursor = reply[1]
        for _, entry in ipairs(reply[2]) do
          local job, wasReleased = startJob(ctx, KEYS[i], laneNames[i], entry[1], entry[2], now)
          if job then
            table.insert(jobs, job)
            table.insert(released, wasReleased and 1 or 0)
          end
        end
        for _, deletedId in ipairs(reply[3] or {}) do
          failLostEntry(ctx, laneNames[i], deletedId, now)
          lost = lost + 1
        end
        scans = scans + 1
      until cursor == '0-0' or #jobs >= wanted or scans >= 10
    end
  end
end
keepFirstRun(ctx.base, ARGV[13], ARGV[14], (#jobs + lost > 0) and (lost .. ' ' .. table.concat(released)) or '', jobs)
return { jobs, lost, released }
