--[[
  Takes up to `count` jobs of one stage for one consumer and starts each of them, in one
  atomic step: an entry is never delivered without its record (or, for a job the API queued
  that has none yet, its line in the queued index) saying that it is running.

  Lanes are read high, then normal, then low; a lane is read only when the lanes above it
  have nothing undelivered. Except: entries of the normal and low lanes that have waited longer
  than the aging limit are taken first (oldest first), so a busy high lane delays lower lanes
  by at most that long and never starves them.

  KEYS[1] stream of the stage's high lane
  KEYS[2] stream of the stage's normal lane
  KEYS[3] stream of the stage's low lane
  KEYS[4] active hash (<base>active)

  ARGV[1] base (<prefix>:{<queue>}:)
  ARGV[2] queue name
  ARGV[3] stage (also the consumer group's name)
  ARGV[4] previous stage ('' for the first stage): its output is the job's input
  ARGV[5] consumer name
  ARGV[6] default max attempts
  ARGV[7] retention of finished records, seconds
  ARGV[8] max stalls: lapsed leases a job may have before it is dead-lettered
  ARGV[9] the queue's first stage (names jobs XADDed by other producers)
  ARGV[10] count: how many jobs the consumer can take now
  ARGV[11] lanes to read, a flag per lane in order high normal low, e.g. '111' or '101'
  ARGV[12] aging limit (ms): lower-lane entries waiting longer go first; 0 for strict priority

  Output: {jobs, wait}
    jobs: a list of job tuples (see startJob)
    wait: when every lane read ran dry, the last entry ID of each lane ('0-0' for an empty or
          unread lane), for a blocking XREAD that wakes on the next new entry; else {}.
]]
local rcall = redis.call
-- @include startJob
-- @include stageContext
-- @include groupInfo

local ctx = stageContext(KEYS[4])
batchStarts(ctx)
local wanted = tonumber(ARGV[10])
local aging = tonumber(ARGV[12])
local laneNames = { 'high', 'normal', 'low' }
local now = nowMs()
local jobs = {}
local dry = true

local function readLane(i, count)
  local reply = rcall('XREADGROUP', 'GROUP', ctx.group, ctx.consumer, 'COUNT', count, 'STREAMS', KEYS[i], '>')
  local entries = reply and reply[1][2] or {}
  for _, entry in ipairs(entries) do
    local job = startJob(ctx, KEYS[i], laneNames[i], entry[1], entry[2], now, true)
    if job then table.insert(jobs, job) end
  end
  return #entries
end

local function lastDelivered(stream)
  local info = groupInfo(stream, ctx.group)
  return info and info['last-delivered-id']
end

-- Entries waiting at the head of a lower lane since before the cutoff are overdue: take them
-- first, the lane with the oldest head first.
if aging > 0 then
  local cutoff = '(' .. (now - aging) .. '-0'
  local overdue = {}
  for i = 2, 3 do
    if string.sub(ARGV[11], i, i) == '1' then
      local after = lastDelivered(KEYS[i])
      if after then
        local waiting = rcall('XRANGE', KEYS[i], '(' .. after, cutoff, 'COUNT', wanted)
        if #waiting > 0 then table.insert(overdue, { lane = i, count = #waiting, head = waiting[1][1] }) end
      end
    end
  end
  table.sort(overdue, function(a, b)
    local am, as = string.match(a.head, '^(%d+)%-(%d+)$')
    local bm, bs = string.match(b.head, '^(%d+)%-(%d+)$')
    if am ~= bm then return tonumber(am) < tonumber(bm) end
    return tonumber(as) < tonumber(bs)
  end)
  for _, lane in ipairs(overdue) do
    if #jobs >= wanted then break end
    readLane(lane.lane, math.min(lane.count, wanted - #jobs))
  end
end

for i = 1, 3 do
  if string.sub(ARGV[11], i, i) == '1' then
    while #jobs < wanted do
      local missing = wanted - #jobs
      if readLane(i, missing) < missing then break end
    end
    if #jobs >= wanted then
      dry = false
      break
    end
  end
end

finishStarts(ctx)

local wait = {}
if dry then
  for i = 1, 3 do
    local last = '0-0'
    if string.sub(ARGV[11], i, i) == '1' then
      local tail = rcall('XREVRANGE', KEYS[i], '+', '-', 'COUNT', 1)
      if tail[1] then last = tail[1][1] end
    end
    wait[i] = last
  end
end
return { jobs, wait }
