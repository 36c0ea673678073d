-- The record's `stages` summary with this stage's finish added: attempts, first start, finish,
-- worker. Takes the fields as read (stages JSON, attempts, stage_started_at, worker) and returns
-- the new JSON, for the caller's own HSET.
local function stageTimings(stagesJson, attempts, startedAt, worker, stage, now)
  local stages = {}
  if stagesJson then stages = cjson.decode(stagesJson) end
  stages[stage] = { attempts = tonumber(attempts), started_at = tonumber(startedAt), finished_at = now, worker = worker }
  return cjson.encode(stages)
end
