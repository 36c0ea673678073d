-- @include groupInfo
-- @include fieldsToMap

-- The undone jobs of a queue, as MAX_BACKLOG counts them: waiting or running in any of its
-- `stages` (their names, space-separated, as backlogStages in enqueue.ts gives them), delayed, or waiting out a retry's backoff. Delayed and retrying
-- jobs are undone work too: uncounted, a client could fill Redis with run_at jobs while the
-- streams stay short. So are the jobs of later stages: counting the first only, a pipeline whose
-- later stage has no worker would take documents for ever, each moving on from the first stage
-- and making room for the next. Entries of jobs cancelled while they waited are in the lag until
-- read past: not undone work.
local function queueBacklog(base, stages)
  local backlog = rcall('ZCARD', base .. 'delayed')
  local cancelledIn = fieldsToMap(rcall('HGETALL', base .. 'cancelled'))
  for name in string.gmatch(stages, '%S+') do
    for _, lane in ipairs({ 'high', 'normal', 'low' }) do
      local stream = base .. name .. ':' .. lane
      local info = groupInfo(stream, name)
      if info then
        local lag = lagOrBound(stream, info)
        backlog = backlog + math.max(0, lag - (tonumber(cancelledIn[name .. ':' .. lane]) or 0)) + info['pending']
      end
    end
  end
  return backlog
end
