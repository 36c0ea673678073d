-- @include startJob
-- @include groupInfo
-- @include entriesRead
-- Takes up to `wanted` jobs of one stage for ctx.consumer from the stage's lane streams
-- (`streams`: high, normal, low) and starts each of them (see startJob). Lanes are read high,
-- then normal, then low; a lane is read only when the lanes above it have nothing undelivered.
-- Except: entries of the normal and low lanes that have waited longer than `aging` ms (overdue)
-- get half of each take (oldest first; of an odd number, the extra one every other take, so a
-- worker taking one job at a time alternates: see overdueTurn), so a busy high lane never starves the lower
-- ones, and a backlog of overdue lower jobs never holds up a new high job either: when they went
-- first, a high job waited behind 40,000 overdue normal ones for 138 s. `laneFlags` says which
-- lanes to read, a flag per lane ('111', '101').
-- Returns jobs (a list of job lines, see jobLine) and wait: when every lane read ran dry, the
-- last entry ID of each lane ('0-0' for an empty or unread lane), for a blocking XREAD that wakes
-- on the next new entry; else {}.
local function takeFromLanes(ctx, streams, wanted, laneFlags, aging, now)
  batchStarts(ctx)
  -- Every entry started here is read for the first time (XREADGROUP >), unlike a takeover's.
  ctx.newEntries = true
  -- Formatted once: a number in a string or a command's arguments is formatted again each time.
  ctx.nowText = tostring(now)
  local laneNames = { 'high', 'normal', 'low' }
  local jobs = {}
  local dry = true
  -- Per lane read: whether its reads delivered anything, and whether the last one ran dry.
  local reads = {}

  local function readLane(i, count)
    local reply = rcall('XREADGROUP', 'GROUP', ctx.group, ctx.consumer, 'COUNT', count, 'STREAMS', streams[i], '>')
    local entries = reply and reply[1][2] or {}
    local read = reads[i] or { delivered = false }
    read.delivered = read.delivered or #entries > 0
    read.caughtUp = #entries < count
    reads[i] = read
    local unstarted = {}
    if ctx.previousStage == '' and #entries > 0 then unstarted = unstartedJobs(ctx.base, laneNames[i], entries) end
    for j, entry in ipairs(entries) do
      local job = startJob(ctx, streams[i], laneNames[i], entry[1], entry[2], now, unstarted[j])
      if job then jobs[#jobs + 1] = job end
    end
    return #entries
  end

  -- Each lane's group, read once per call (false when it has none).
  local groups = {}
  local function laneGroup(i)
    if groups[i] == nil then groups[i] = groupInfo(streams[i], ctx.group) or false end
    return groups[i] or nil
  end
  local function lastDelivered(i)
    local info = laneGroup(i)
    return info and info['last-delivered-id']
  end

  -- Each lane's length (0 for a lane not read; acked history counts too): a lane without entries
  -- is not read, and when at most one lane has any, priority order is age order.
  local lengths, filled = {}, 0
  for i = 1, 3 do
    lengths[i] = string.sub(laneFlags, i, i) == '1' and rcall('XLEN', streams[i]) or 0
    if lengths[i] > 0 then filled = filled + 1 end
  end

  -- Whether the extra job of an odd take goes to the overdue entries: every other take of the
  -- stage, told by the parity of the entries its group has read over the lanes, which a take of
  -- one job moves by one (by the millisecond's parity, a worker whose takes came at an even
  -- interval kept landing on the same side: seven high jobs in a row while low ones were overdue).
  -- A group that has read nothing has no count yet: 0. One whose count Redis does not know (see
  -- entriesRead) has the millisecond decide.
  local function overdueTurn()
    local read = 0
    for i = 1, 3 do
      local info = lengths[i] > 0 and laneGroup(i)
      if info then
        local count = info['entries-read']
        if type(count) ~= 'number' then
          if info['last-delivered-id'] ~= '0-0' then return now % 2 == 0 end
          count = 0
        end
        read = read + count
      end
    end
    return read % 2 == 0
  end

  -- Entries waiting at the head of a lower lane since before the cutoff are overdue: take them
  -- first, the lane with the oldest head first, up to their half of the take. The rest of it goes
  -- in priority order, overdue entries included once the lanes above have nothing.
  local overdueShare = math.floor(wanted / 2)
  if aging > 0 and filled > 1 and wanted % 2 == 1 and overdueTurn() then overdueShare = overdueShare + 1 end
  if aging > 0 and filled > 1 and overdueShare > 0 then
    local cutoff = '(' .. (now - aging) .. '-0'
    local overdue = {}
    for i = 2, 3 do
      if lengths[i] > 0 then
        local after = lastDelivered(i)
        if after then
          local waiting = rcall('XRANGE', streams[i], '(' .. after, cutoff, 'COUNT', overdueShare)
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
      if #jobs >= overdueShare then break end
      readLane(lane.lane, math.min(lane.count, overdueShare - #jobs))
    end
  end

  for i = 1, 3 do
    if lengths[i] > 0 then
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

  -- The groups' entries-read counters, written so that they survive an AOF replay (see entriesRead).
  for i = 1, 3 do
    if reads[i] then
      writeEntriesRead(streams[i], ctx.group, reads[i].delivered, reads[i].caughtUp)
      if reads[i].caughtUp then clearCancelledWaiting(ctx.base, ctx.stage, laneNames[i]) end
    end
  end

  local wait = {}
  if dry then
    for i = 1, 3 do
      local last = '0-0'
      if lengths[i] > 0 then
        local tail = rcall('XREVRANGE', streams[i], '+', '-', 'COUNT', 1)
        if tail[1] then last = tail[1][1] end
      end
      wait[i] = last
    end
  end
  return jobs, wait
end
