--[[
  How many entries of one stage have been held past their holder's lease (see lapsedEntries),
  across its lanes, up to `most`: what a takeover would find now. Reads only.

  KEYS[1..3] streams of the stage's high, normal and low lanes
  KEYS[4] leases hash (see leaseNames)

  ARGV[1] the stage's group
  ARGV[2] the lease (ms) of a holder the leases hash does not name: the asking worker's own
  ARGV[3] most: stop counting there

  Output: the count.
]]
local rcall = redis.call
-- @include lapsedEntries

local most, count = tonumber(ARGV[3]), 0
for i = 1, 3 do
  count = count + #lapsedEntries(KEYS[i], ARGV[1], KEYS[4], tonumber(ARGV[2]), most - count)
end
return count
