-- The queue's per-minute stats hash for the minute of `now` (ms); scripts that count read it
-- before their first write (see findForeignKeys).
local function statsKey(base, now)
  return base .. 'stats:' .. math.floor(now / 60000)
end

-- Counts an event in the queue's per-minute stats hash (`<base>stats:<minute>`, field
-- `<event>:<stage>`). Each minute's hash expires after two hours, so the counters stay bounded
-- and survive API and worker restarts. The expiry is set when a field is created; later
-- increments of the minute need no second call.
local function countEvent(base, now, event, stage, n)
  local key = statsKey(base, now)
  local by = n or 1
  if rcall('HINCRBY', key, event .. ':' .. stage, by) == by then rcall('EXPIRE', key, 7200, 'NX') end
end
