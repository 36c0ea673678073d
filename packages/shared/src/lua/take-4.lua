--[[
  Takes up to `count` jobs of one stage for one consumer and starts each of them, in one
  atomic step: an entry is never delivered without its record (or, for a job the API queued
  that has none yet, its line in the active index) saying that it is running.

  Lanes are read in priority order, with aging (see takeFromLanes).

  KEYS[1] stream of the stage's high lane
  KEYS[2] stream of the stage's normal lane
  KEYS[3] stream of the stage's low lane
  KEYS[4] active hash (<base>active)

  ARGV[1] base (<prefix>:{<queue>}:)
  ARGV[2] queue name
  ARGV[3] stage (also the consumer group's name)
  ARGV[4] previous stage ('' for the first stage): its output is the job's input
  ARGV[5] consumer name
  ARGV[6] default max attempts
  ARGV[7] retention of finished records, seconds
  ARGV[8] max stalls: lapsed leases a job may have before it is dead-lettered
  ARGV[9] the queue's first stage (names jobs XADDed by other producers)
  ARGV[10] count: how many jobs the consumer can take now
  ARGV[11] lanes to read, a flag per lane in order high normal low, e.g. '111' or '101'
  ARGV[12] aging limit (ms): lower-lane entries waiting longer get half of each take; 0 for strict priority
  ARGV[13] this call's token, and ARGV[14] how long (ms) to keep what it took: see repeatedCall

  Output: {jobs, wait, repeated, deadOut}
    jobs: a list of job lines (see jobLine)
    wait: when every lane read ran dry, the last entry ID of each lane ('0-0' for an empty or
          unread lane), for a blocking XREAD that wakes on the next new entry; else {}.
    repeated: 0, or 1 when sent again (the same token): it then replies the jobs of its first run
          that are still held, no wait, and the first run's deadOut.
    deadOut: the jobs dead-lettered instead of started (see stageContext), for the worker to log.
]]
local rcall = redis.call
-- @include takeFromLanes
-- @include stageContext
-- @include repeatedCall

local ctx = stageContext(KEYS[4])
local kept = firstRun(ctx.base, ARGV[13])
if kept then
  local _, jobs, _, deadOut = replayFirstRun(ctx, kept)
  return { jobs, {}, 1, deadOut }
end
local jobs, wait = takeFromLanes(ctx, { KEYS[1], KEYS[2], KEYS[3] }, tonumber(ARGV[10]), ARGV[11], tonumber(ARGV[12]), nowMs())
keepFirstRun(ctx.base, ARGV[13], ARGV[14], '', jobs, ctx.deadOut)
return { jobs, wait, 0, ctx.deadOut }
