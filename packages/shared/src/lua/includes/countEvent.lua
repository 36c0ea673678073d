-- Counts an event in the queue's per-minute stats hash (`<base>stats:<minute>`, field
-- `<event>:<stage>`). Each minute's hash expires after two hours, so the counters stay bounded
-- and survive API and worker restarts.
local function countEvent(base, now, event, stage, n)
  local key = base .. 'stats:' .. math.floor(now / 60000)
  rcall('HINCRBY', key, event .. ':' .. stage, n or 1)
  rcall('EXPIRE', key, 7200, 'NX')
end
