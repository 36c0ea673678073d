--[[
  Deletes consumers that hold no pending entries and have been idle longer than `idle` ms:
  workers restart under new names (`<hostname>-<pid>`), so the old names pile up otherwise.
  A consumer with pending entries is never deleted (XGROUP DELCONSUMER would make its entries
  unclaimable); checking and deleting in one script leaves no gap for a delivery in between.

  KEYS[1] stream

  ARGV[1] group
  ARGV[2] idle (ms)
  ARGV[3] a consumer never to delete (the caller)

  Output: the number of consumers deleted.
]]
local rcall = redis.call
local ok, consumers = pcall(rcall, 'XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if not ok then return 0 end
local deleted = 0
for _, consumer in ipairs(consumers) do
  local info = {}
  for j = 1, #consumer, 2 do info[consumer[j]] = consumer[j + 1] end
  if info['pending'] == 0 and info['idle'] > tonumber(ARGV[2]) and info['name'] ~= ARGV[3] then
    rcall('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    deleted = deleted + 1
  end
end
return deleted
