-- The leases hash (see QueueKeys.leases): consumer -> '<its LEASE_MS> <when it last said so>',
-- Redis's clock. A worker names its lease with each heartbeat and each renewal of what it holds,
-- so the name stays while it holds jobs, draining included (its heartbeats stop when it stops
-- taking jobs; its renewals go on until it lets go of the last one).

-- Names `consumer`'s lease at `now`, and keeps the hash at least max(keep, lease) longer (it is
-- never shortened: another worker may keep it longer).
local function nameLease(leasesKey, consumer, lease, keep, now)
  rcall('HSET', leasesKey, consumer, lease .. ' ' .. now)
  local wanted = math.max(tonumber(keep), tonumber(lease))
  if rcall('PTTL', leasesKey) < wanted then rcall('PEXPIRE', leasesKey, wanted) end
end

-- A lease field's lease (ms) and when it was last named (nil in a field written before the time
-- was kept).
local function leaseParts(value)
  local lease, seen = string.match(value or '', '^(%d+) ?(%d*)$')
  return tonumber(lease), tonumber(seen)
end
