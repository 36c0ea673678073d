--[[
  Reads a job as one consistent snapshot: its record when it has one, else its queued entry.
  Never returns the stored document bytes.

  KEYS[1] job record
  KEYS[2] queued index hash

  ARGV[1] base
  ARGV[2] job ID
  ARGV[3] first stage of the queue
  ARGV[4] queue name
  ARGV[5] longest output given whole, in bytes (optional): a stage's output (`out:<stage>`) or
          the result longer than this is given cut to this many bytes, and `cut:<field>` holds
          its whole length, so a poll of a document's job does not move its whole text each time.
          The cut comes from the head kept beside a long output (`head:<field>`, see complete-n)
          when it is long enough, without reading the output itself

  Output:
    {'record', {field, value, ...}}           the job has a record (or is lost with its entry, and
                                              is shown with the record it will be given)
    {'entry', lane, entryId, {field, ...}, stage, started at, worker}
                                              the job has no record yet: queued (started at
                                              and worker '') or in its first attempt
    false                                     no such job
]]
local rcall = redis.call
-- @include directJobEntry
-- @include recordless
-- @include nowMs
-- @include lostJobs

local fieldNames = rcall('HKEYS', KEYS[1])
if #fieldNames > 0 then
  local longest = tonumber(ARGV[5])
  local wanted = {}
  local long = {}
  for _, name in ipairs(fieldNames) do
    if name == 'doc' or string.sub(name, 1, 5) == 'head:' then
      -- never returned (a head is read for its output, below)
    else
      local length = longest and (name == 'result' or string.sub(name, 1, 4) == 'out:') and rcall('HSTRLEN', KEYS[1], name)
      if length and length > longest then
        table.insert(long, { name, length })
      else
        table.insert(wanted, name)
      end
    end
  end
  local flat = {}
  if #wanted > 0 then
    local values = rcall('HMGET', KEYS[1], unpack(wanted))
    for i, name in ipairs(wanted) do
      table.insert(flat, name)
      table.insert(flat, values[i])
    end
  end
  for _, field in ipairs(long) do
    local name, length = field[1], field[2]
    -- An output written before heads were kept (or a head shorter than asked for) is read whole.
    local head = rcall('HGET', KEYS[1], 'head:' .. name)
    if not head or #head < longest then head = rcall('HGET', KEYS[1], name) end
    table.insert(flat, name)
    table.insert(flat, string.sub(head, 1, longest))
    table.insert(flat, 'cut:' .. name)
    table.insert(flat, tostring(length))
  end
  return { 'record', flat }
end

local base, jobId, firstStage, queue = ARGV[1], ARGV[2], ARGV[3], ARGV[4]

local lane, entryId = queuedEntry(base, jobId)
if lane then
  local found = rcall('XRANGE', base .. firstStage .. ':' .. lane, entryId, entryId)
  local running = recordlessAttempt(base, firstStage, lane, entryId)
  if running and running.jobId == jobId then
    -- Its first attempt runs from the active index's copy of its entry, which outlives the entry
    -- should another client delete it.
    local fields = { 'job', jobId, 'payload', running.map['payload'] }
    if running.map['opts'] then fields[5] = 'opts'; fields[6] = running.map['opts'] end
    return { 'entry', lane, entryId, fields, firstStage, running.startedAt, running.worker }
  end
  -- Lost with its entry (see lostJobs): shown as the record a worker's walk will give it.
  if not found[1] then
    local now = nowMs()
    local fields, err = lostJobFields(firstStage, jobId, lane, entryId, now)
    for _, value in ipairs({ 'status', 'dead', 'error', err, 'finished_at', tostring(now), 'updated_at', tostring(now) }) do fields[#fields + 1] = value end
    return { 'record', fields }
  end
  return { 'entry', lane, entryId, found[1][2], firstStage, '', '' }
end

-- A job XADDed by another producer is named after its entry (see directJobs); it is queued
-- while its entry is in its stream and the stage's group has not yet delivered it, or has
-- delivered it to a consumer that is not a worker (a worker's take writes the record): that one
-- holds it pending until a worker takes it over, once its lease lapses.
local stage, fields
stage, lane, entryId, fields = directJobEntry(base, queue, firstStage, jobId)
if not stage then return false end
local stream = base .. stage .. ':' .. lane
if isDelivered(stream, stage, entryId) and not isPending(stream, stage, entryId) then return false end
return { 'entry', lane, entryId, fields, stage, '', '' }
