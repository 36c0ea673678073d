-- @include groupInfo
-- @include leaseNames
-- The IDs of the entries of a stage's stream whose lease lapsed, oldest first, at most `most`.
-- A lease is its holder's own: the LEASE_MS its worker says it renews by (the leases hash, see
-- leaseNames), so a worker with a long lease keeps its jobs that long however short the asking
-- worker's is, even while it stands still (a long GC pause, a SIGSTOP, a frozen VM), and a dead
-- worker with a short lease loses its jobs after that lease, however long another worker's is. A holder the hash does not name (a client outside Conveyor reading in the group;
-- a worker's lease stays while it holds entries) gets `fallback`, the asking worker's lease.
-- One XPENDING per consumer holding entries: a consumer's lapsed entries, not every held one.
local function lapsedEntries(stream, group, leasesKey, fallback, most)
  local found = {}
  if most <= 0 then return found end
  local ok, consumers = pcall(rcall, 'XINFO', 'CONSUMERS', stream, group)
  if not ok then return found end
  for _, consumer in ipairs(consumers) do
    local info = {}
    for j = 1, #consumer, 2 do info[consumer[j]] = consumer[j + 1] end
    if info['pending'] > 0 then
      local lease = leaseParts(rcall('HGET', leasesKey, info['name'])) or fallback
      for _, entry in ipairs(rcall('XPENDING', stream, group, 'IDLE', lease, '-', '+', most, info['name'])) do
        table.insert(found, entry[1])
      end
    end
  end
  table.sort(found, entryBefore)
  for i = #found, most + 1, -1 do found[i] = nil end
  return found
end
