-- Publishes one job event on the queue's events channel. Called by the script that
-- makes the transition, so no event is sent for a transition that did not happen.
--
-- An event goes out only while somebody may listen (checked once per script call): a
-- subscriber to the channel on this node, any pattern subscriber, or an API process that marked
-- the channel watched (`<channel>:watched`, kept alive while its SSE clients listen; on Redis
-- Cluster its subscriber may be connected to another node). With nobody listening, building and
-- sending each message would cost more than the rest of a job's transition.
local watchedChannels = {}
local function isWatched(channel)
  local watched = watchedChannels[channel]
  if watched == nil then
    watched = rcall('EXISTS', channel .. ':watched') == 1
      or rcall('PUBSUB', 'NUMPAT') > 0
      or rcall('PUBSUB', 'NUMSUB', channel)[2] > 0
    watchedChannels[channel] = watched
  end
  return watched
end

local function publishEvent(channel, event, jobId, now, extra)
  if not isWatched(channel) then return end
  local message = extra or {}
  message['event'] = event
  message['job_id'] = jobId
  message['at'] = now
  -- A notice, not part of the transition: a Redis user without the channel (ACLs) must not fail
  -- the script after its writes, which stored a job for a request answered 500.
  redis.pcall('PUBLISH', channel, cjson.encode(message))
end
