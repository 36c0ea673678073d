-- The leases hash (see QueueKeys.leases): consumer -> '<its LEASE_MS> <when it last said so>',
-- Redis's clock. A worker names its lease with each heartbeat and each renewal of what it holds,
-- and before it re-reads what it held under the same name, and a sweep drops the name only once
-- the worker has been silent for CONSUMER_RETENTION and holds no entry (heartbeat-2.lua).

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

-- Whether `consumer` holds an entry (it is in a pending list) of a stage named in `args` from
-- `from` on, in the queue of key base `base`.
local function holdsEntries(base, args, from, consumer)
  for i = from, #args do
    for _, lane in ipairs({ 'high', 'normal', 'low' }) do
      local ok, held = pcall(rcall, 'XPENDING', base .. args[i] .. ':' .. lane, args[i], '-', '+', 1, consumer)
      if ok and #held > 0 then return true end
    end
  end
  return false
end
