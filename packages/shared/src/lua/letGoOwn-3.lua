--[[
  Lets go of this consumer's own pending entries that recovery found no free slot for (a worker
  restarted under the same consumer name with fewer slots than its predecessor held jobs): each
  gets an idle time of `idle` ms (twice the worker's lease), so the next takeover of any worker,
  this one's as its slots free up, takes it. Left as they were, they waited out this worker's
  lease, which it had just named for itself: 18 s for a predecessor's released jobs when the
  lease went from 1 s to 20 s. An entry deleted from the stream is left pending, for the takeover
  that fails its attempt (XCLAIM would drop it from the pending list, and its job with it).

  KEYS[1..3] streams of the stage's high, normal and low lanes

  ARGV[1] group
  ARGV[2] consumer
  ARGV[3] idle (ms)
  ARGV[4..6] per lane, the ID recovery read up to ('0': from the start), or '' when it read all

  Output: how many entries were let go.
]]
local rcall = redis.call
local PAGE = 500
local count = 0
for i = 1, 3 do
  local cursor = ARGV[3 + i]
  if cursor ~= '' then
    local start = cursor == '0' and '-' or '(' .. cursor
    local page
    repeat
      page = rcall('XPENDING', KEYS[i], ARGV[1], start, '+', PAGE, ARGV[2])
      local claim = { 'XCLAIM', KEYS[i], ARGV[1], ARGV[2], 0 }
      for _, entry in ipairs(page) do
        if rcall('XRANGE', KEYS[i], entry[1], entry[1])[1] then table.insert(claim, entry[1]) end
        start = '(' .. entry[1]
      end
      if #claim > 5 then
        count = count + #claim - 5
        table.insert(claim, 'IDLE')
        table.insert(claim, ARGV[3])
        table.insert(claim, 'JUSTID')
        rcall(unpack(claim))
      end
    until #page < PAGE
  end
end
return count
