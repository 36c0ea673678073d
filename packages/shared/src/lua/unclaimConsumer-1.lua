--[[
  Gives up a process's claim on its consumer name (see claimConsumer), if it still holds it.

  KEYS[1] the name's claim key

  ARGV[1] the process's token

  Output: 1 when the claim was this process's and is gone, 0 otherwise.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
