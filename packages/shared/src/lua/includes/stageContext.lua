-- The context shared by take, reclaim, recover (ARGV[1..9]) and complete's take-along
-- (ARGV[at + 1 .. at + 9]), in this order:
--   base, queue, stage (also the group), previous stage, consumer, default max attempts,
--   retention of finished records (seconds), max stalls, the queue's first stage
-- and, built once per call, the queue's events channel. deadOut collects the jobs startJob
-- dead-lettered instead of starting ('<job ID> <code> <stalls>' each), for the caller to reply.
local function stageContext(activeKey, at)
  at = at or 0
  return {
    base = ARGV[at + 1], queue = ARGV[at + 2], stage = ARGV[at + 3], group = ARGV[at + 3], previousStage = ARGV[at + 4],
    consumer = ARGV[at + 5], defaultMaxAttempts = tonumber(ARGV[at + 6]),
    defaultMaxAttemptsText = ARGV[at + 6], retentionSeconds = tonumber(ARGV[at + 7]),
    maxStalls = tonumber(ARGV[at + 8]), firstStage = ARGV[at + 9], activeKey = activeKey, events = ARGV[at + 1] .. 'events',
    deadOut = {},
  }
end
