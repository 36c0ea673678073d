-- Publishes one job event on the queue's events channel. Called by the script that
-- makes the transition, so no event is sent for a transition that did not happen.
local function publishEvent(channel, event, jobId, now, extra)
  local message = extra or {}
  message['event'] = event
  message['job_id'] = jobId
  message['at'] = now
  rcall('PUBLISH', channel, cjson.encode(message))
end
