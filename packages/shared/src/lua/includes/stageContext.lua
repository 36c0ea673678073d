-- The context shared by take, reclaim and recover: ARGV[1..9] in this order.
--   base, queue, stage (also the group), previous stage, consumer, default max attempts,
--   retention of finished records (seconds), max stalls, the queue's first stage
local function stageContext(activeKey)
  return {
    base = ARGV[1], queue = ARGV[2], stage = ARGV[3], group = ARGV[3], previousStage = ARGV[4],
    consumer = ARGV[5], defaultMaxAttempts = tonumber(ARGV[6]), retentionSeconds = tonumber(ARGV[7]),
    maxStalls = tonumber(ARGV[8]), firstStage = ARGV[9], activeKey = activeKey,
  }
end
