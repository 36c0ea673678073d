-- @include groupInfo
-- @include fieldsToMap
-- Writes a consumer group's entries-read counter (the logical offset of its last-delivered entry,
-- from which Redis computes the group's lag: GET /queues' waiting_tasks, KEDA's lagCount) as an
-- explicit command, after this script read the stream with XREADGROUP.
--
-- Redis 7.0 propagates an XREADGROUP (to the AOF and to replicas) as one XCLAIM ... LASTID per
-- entry, and XCLAIM moves the group's last-delivered ID but not its entries-read counter
-- (redis/redis#10569). So once Redis restarts from its AOF (or a replica is promoted), the counter
-- is either unknown (the lag is then null while entries wait behind a delivered one) or, after an
-- AOF rewrite stored an older value in the RDB preamble, that older value: the lag then counts
-- every entry delivered since the rewrite as waiting, and keeps counting them, since each read
-- adds one to the stale counter, while nothing waits. `XGROUP SETID <stream> <group>
-- <last-delivered ID> [ENTRIESREAD <n>]` leaves the group as it is here (same ID, same counter,
-- unknown when it is unknown here) and is propagated after the XCLAIMs, so a replay ends with the
-- same counter.
--
-- `caughtUp`: the last read found nothing more after the group's last-delivered entry. When that
-- entry is the last the stream ever had (`last-generated-id`), the counter must be the stream's
-- `entries-added` (Redis's own rule for that ID): a counter that went stale before this was
-- written (data from an older Conveyor) is set right here, so its phantom lag goes away the next
-- time the group has read everything. `delivered`: whether the reads delivered anything (else
-- nothing is written unless the counter is set right).
local function writeEntriesRead(stream, group, delivered, caughtUp)
  local info = groupInfo(stream, group)
  if not info then return end
  local current = info['entries-read']
  if type(current) ~= 'number' then current = nil end
  local counter = current
  if caughtUp then
    local streamInfo = fieldsToMap(rcall('XINFO', 'STREAM', stream))
    if streamInfo['last-generated-id'] == info['last-delivered-id'] then counter = streamInfo['entries-added'] end
  end
  if not delivered and counter == current then return end
  if counter then
    rcall('XGROUP', 'SETID', stream, group, info['last-delivered-id'], 'ENTRIESREAD', counter)
  else
    rcall('XGROUP', 'SETID', stream, group, info['last-delivered-id'])
  end
end
