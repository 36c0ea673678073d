--[[
  The lease a takeover must wait out on a queue: the longest of its live workers' leases, and at
  least the asking worker's own. A worker renews what it holds every third of its own LEASE_MS;
  one that took over entries idle past a shorter lease of its own took running jobs from healthy
  workers, which then ran twice (a rolling deploy that lowers LEASE_MS).

  KEYS[1] workers hash (consumer -> until when it counts as live, Redis's clock)
  KEYS[2] leases hash (consumer -> its lease, ms)

  ARGV[1] the asking worker's lease (ms)

  Output: the lease, ms.
]]
local rcall = redis.call
-- @include nowMs

local now = nowMs()
local longest = tonumber(ARGV[1])
local leases = rcall('HGETALL', KEYS[2])
for i = 1, #leases, 2 do
  local lease = tonumber(leases[i + 1])
  if lease and lease > longest then
    local live = tonumber(rcall('HGET', KEYS[1], leases[i]))
    if live and live > now then longest = lease end
  end
end
return longest
