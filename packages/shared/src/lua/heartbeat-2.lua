--[[
  Says that a worker reads a queue until `live` ms from now (Redis's clock, the one readers
  compare with), and with which lease it holds jobs (see lapsedEntries), and keeps both hashes `keep`
  ms after the last worker's word. With `sweep`, also drops the fields of workers not heard from
  in `keep` ms (dead ones, which never deleted theirs).

  KEYS[1] workers hash
  KEYS[2] leases hash

  ARGV[1] consumer
  ARGV[2] live (ms)
  ARGV[3] keep (ms)
  ARGV[4] sweep: '1' or '0'
  ARGV[5] the worker's lease (ms)

  Output: how many stale fields were dropped.
]]
local rcall = redis.call
-- @include nowMs

local now = nowMs()
local dropped = 0
if ARGV[4] == '1' then
  local fields = rcall('HGETALL', KEYS[1])
  local cutoff = now - tonumber(ARGV[3])
  for i = 1, #fields, 2 do
    if tonumber(fields[i + 1]) < cutoff then
      rcall('HDEL', KEYS[1], fields[i])
      rcall('HDEL', KEYS[2], fields[i])
      dropped = dropped + 1
    end
  end
end
rcall('HSET', KEYS[1], ARGV[1], now + tonumber(ARGV[2]))
rcall('PEXPIRE', KEYS[1], ARGV[3])
rcall('HSET', KEYS[2], ARGV[1], ARGV[5])
rcall('PEXPIRE', KEYS[2], ARGV[3])
return dropped
