--[[
  Claims a consumer name for one worker process, or renews its claim. The key holds the
  process's token for `ttl` ms. Two live processes under one name would take each other's jobs:
  each re-reads the consumer's pending entries as its own when it starts, and each lease renewal
  and completion passes for the other's.

  KEYS[1] the name's claim key (consumerClaimKey)

  ARGV[1] the process's token
  ARGV[2] ttl (ms)
  ARGV[3] '1' to take the name when nobody holds it; '0' only to look (a process that found it
          held looks until it is free, then takes it only if it is still free a while later, so
          that a holder whose renewal Redis has not answered yet keeps it)

  Output: 0 when this process holds the name now (its claim was kept, or taken); -1 when nobody
  holds it and ARGV[3] is '0'; otherwise how many ms more another process's claim runs (at least 1).
]]
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return math.max(1, redis.call('PTTL', KEYS[1])) end
if not holder and ARGV[3] == '0' then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 0
