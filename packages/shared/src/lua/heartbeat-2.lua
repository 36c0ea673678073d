--[[
  Says that a worker reads a queue until `live` ms from now (Redis's clock, the one readers
  compare with), and with which lease it holds jobs (see leaseNames), and keeps both hashes `keep`
  ms after the last worker's word (the leases hash at least a lease). With `sweep`, also drops
  the words of workers not heard from in `keep` ms (dead ones, and ones that left), and the
  leases not named for `keep` ms of consumers that hold no entry of the queue's stages.

  KEYS[1] workers hash
  KEYS[2] leases hash

  ARGV[1] consumer
  ARGV[2] live (ms)
  ARGV[3] keep (ms)
  ARGV[4] sweep: '1' or '0'
  ARGV[5] the worker's lease (ms)
  ARGV[6] the queue's key base, and ARGV[7..] its stages: where a consumer's entries are held

  Output: how many stale words were dropped.
]]
local rcall = redis.call
-- @include nowMs
-- @include leaseNames

local now = nowMs()
local dropped = 0
local keep = tonumber(ARGV[3])
if ARGV[4] == '1' then
  local words = rcall('HGETALL', KEYS[1])
  local wordOf = {}
  for i = 1, #words, 2 do
    wordOf[words[i]] = tonumber(words[i + 1])
    if wordOf[words[i]] < now - keep then
      rcall('HDEL', KEYS[1], words[i])
      dropped = dropped + 1
    end
  end
  -- A lease is dropped only once its worker has said nothing for `keep` and holds no entry: a
  -- takeover of what it holds waits it out. Dropped with the word, a draining or frozen worker's
  -- lease went after CONSUMER_RETENTION (the sweeping worker's), and a worker with a shorter
  -- lease took its running jobs; dropped a lease after its last naming, an entry taken after
  -- that naming was taken over before its lease was out.
  local leases = rcall('HGETALL', KEYS[2])
  for i = 1, #leases, 2 do
    local _, seen = leaseParts(leases[i + 1])
    seen = seen or wordOf[leases[i]] or 0
    if seen < now - keep and not holdsEntries(ARGV[6], ARGV, 7, leases[i]) then rcall('HDEL', KEYS[2], leases[i]) end
  end
end
rcall('HSET', KEYS[1], ARGV[1], now + tonumber(ARGV[2]))
rcall('PEXPIRE', KEYS[1], keep)
nameLease(KEYS[2], ARGV[1], ARGV[5], keep, now)
return dropped
