-- Notes a finished stage in the record's `stages` summary: attempts, first start, finish, worker.
local function recordStageTiming(jobKey, stage, now)
  local r = rcall('HMGET', jobKey, 'stages', 'attempts', 'stage_started_at', 'worker')
  local stages = {}
  if r[1] then stages = cjson.decode(r[1]) end
  stages[stage] = {
    attempts = tonumber(r[2]), started_at = tonumber(r[3]), finished_at = now, worker = r[4] }
  rcall('HSET', jobKey, 'stages', cjson.encode(stages))
end
