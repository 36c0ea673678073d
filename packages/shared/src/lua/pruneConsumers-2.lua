--[[
  Deletes consumers that hold no pending entries and have been idle longer than `idle` ms:
  workers restart under new names (`<hostname>-<pid>`), so the old names pile up otherwise.
  A consumer with pending entries is never deleted (XGROUP DELCONSUMER would make its entries
  unclaimable); checking and deleting in one script leaves no gap for a delivery in between.
  Nor is the consumer of a worker that says it reads the queue (its word in the workers hash
  still holds): a live worker reads a lane only when it has entries, so on a lane or stage with
  no work its consumer is idle however alive its worker is, and deleting it made GET /queues and
  conveyor_stage_live_consumers show 0 live consumers for stages that live workers serve.

  KEYS[1] stream
  KEYS[2] the queue's workers hash (consumer -> until when its word holds, Redis's clock)

  ARGV[1] group
  ARGV[2] idle (ms)
  ARGV[3] a consumer never to delete (the caller)

  Output: the number of consumers deleted.
]]
local rcall = redis.call
-- @include nowMs

local ok, consumers = pcall(rcall, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then return 0 end
local now = nowMs()
local deleted = 0
for _, consumer in ipairs(consumers) do
  local info = {}
  for j = 1, #consumer, 2 do info[consumer[j]] = consumer[j + 1] end
  if info['pending'] == 0 and info['idle'] > tonumber(ARGV[2]) and info['name'] ~= ARGV[3] then
    local word = tonumber(rcall('HGET', KEYS[2], info['name']))
    if not (word and word > now) then
      rcall('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
      deleted = deleted + 1
    end
  end
end
return deleted
