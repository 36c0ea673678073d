--[[
  Re-reads this consumer's own pending entries (XREADGROUP ... ID after `cursor`), as a worker
  restarted under the same consumer name does first: each is started again as a new attempt.
  Entries deleted from the stream while pending come back without fields; their attempt fails.

  KEYS[1..3] streams of the stage's high, normal and low lanes
  KEYS[4] active hash

  ARGV[1..9] base, queue, stage, previous stage, consumer, default max attempts, retention (s),
             max stalls, first stage
  ARGV[10] count: most jobs to start now
  ARGV[11..13] per lane, the ID to read after ('0' from the start), or '' when that lane is done
  ARGV[14] this call's token, and ARGV[15] how long (ms) to keep what it started: see repeatedCall

  Output: {jobs, cursors, repeated, stalledOut}: job lines (see jobLine), the cursor per lane for
  the next call ('' when done), 0, and the jobs dead-lettered instead of started (see deadOut in
  stageContext), for the worker to log and count. Sent again (the same token), it replies what
  its first run started and is still held, the cursors it gave, 1, and the jobs it dead-lettered.
]]
local rcall = redis.call
-- @include startJob
-- @include failLostEntry
-- @include stageContext
-- @include repeatedCall

local ctx = stageContext(KEYS[4])
local kept = firstRun(ctx.base, ARGV[14])
if kept then
  local head, jobs, _, deadOut = replayFirstRun(ctx, kept)
  local cursors = {}
  for cursor in string.gmatch(head, '%S+') do cursors[#cursors + 1] = cursor == '-' and '' or cursor end
  return { jobs, cursors, 1, deadOut }
end
local wanted = tonumber(ARGV[10])
local laneNames = { 'high', 'normal', 'low' }
local now = nowMs()
local jobs = {}
local cursors = { ARGV[11], ARGV[12], ARGV[13] }

for i = 1, 3 do
  while cursors[i] ~= '' and #jobs < wanted do
    local reply = rcall('XREADGROUP', 'GROUP', ctx.group, ctx.consumer, 'COUNT', wanted - #jobs, 'STREAMS', KEYS[i], cursors[i])
    local entries = reply and reply[1][2] or {}
    if #entries == 0 then
      cursors[i] = ''
    else
      for _, entry in ipairs(entries) do
        cursors[i] = entry[1]
        if entry[2] then
          local job = startJob(ctx, KEYS[i], laneNames[i], entry[1], entry[2], now)
          if job then table.insert(jobs, job) end
        else
          rcall('XACK', KEYS[i], ctx.group, entry[1])
          failLostEntry(ctx, laneNames[i], entry[1], now)
        end
      end
    end
  end
end
if #jobs > 0 or #ctx.deadOut > 0 then
  local head = {}
  for i = 1, 3 do head[i] = cursors[i] == '' and '-' or cursors[i] end
  keepFirstRun(ctx.base, ARGV[14], ARGV[15], table.concat(head, ' '), jobs, ctx.deadOut)
end
return { jobs, cursors, 0, ctx.deadOut }
