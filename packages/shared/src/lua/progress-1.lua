--[[
  Records a running attempt's progress (0-100 and a short message) in the job record and
  publishes a `progress` event. Refused for an attempt that is no longer current.

  KEYS[1] job record

  ARGV[1] base
  ARGV[2] stage
  ARGV[3] entry ID
  ARGV[4] attempt
  ARGV[5] percent (0-100)
  ARGV[6] message ('' for none)
  ARGV[7] lane

  Output: 1 recorded, -1 no record, -2 not the current attempt
]]
local rcall = redis.call
-- @include nowMs
-- @include publishEvent
-- @include checkAttempt

local refusal = checkAttempt(KEYS[1], ARGV[2], ARGV[3], ARGV[4], ARGV[1], ARGV[7], true)
if refusal then return refusal end
local now = nowMs()
local percent = tonumber(ARGV[5])
rcall('HSET', KEYS[1], 'progress', percent, 'progress_message', ARGV[6], 'updated_at', now)
publishEvent(ARGV[1] .. 'events', 'progress', rcall('HGET', KEYS[1], 'id'), now, { stage = ARGV[2], percent = percent, message = ARGV[6] })
return 1
