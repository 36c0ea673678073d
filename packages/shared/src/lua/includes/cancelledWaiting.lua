-- Jobs cancelled while their entry waited undelivered, per `<stage>:<lane>` in the queue's
-- `cancelled` hash. Their entries count in the group's lag until a worker reads past them (a
-- paused stage never does), so GET /queues, /metrics and MAX_BACKLOG take them off it.
local function countCancelledWaiting(base, stage, lane, by)
  local key = base .. 'cancelled'
  local field = stage .. ':' .. lane
  if rcall('HINCRBY', key, field, by) <= 0 then rcall('HDEL', key, field) end
end

-- A lane whose group has been delivered every entry has none waiting, cancelled or not: a count
-- left there (drifted: a stream deleted, a group moved past entries by hand) goes.
local function clearCancelledWaiting(base, stage, lane)
  rcall('HDEL', base .. 'cancelled', stage .. ':' .. lane)
end
