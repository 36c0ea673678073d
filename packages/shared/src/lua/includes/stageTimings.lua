-- The record's `stages` summary with this stage's finish added: attempts, first start, finish,
-- worker. Takes the fields as read (stages JSON, attempts, stage_started_at, worker) and returns
-- the new JSON, for the caller's own HSET.
local function stageTimings(stagesJson, attempts, startedAt, worker, stage, now)
  local stages = {}
  if stagesJson then stages = cjson.decode(stagesJson) end
  stages[stage] = { attempts = tonumber(attempts), started_at = tonumber(startedAt), finished_at = now, worker = worker }
  return cjson.encode(stages)
end

-- The same for a job whose first stage ends on its first attempt (no `stages` yet), built as text:
-- cheaper than a table through cjson, once per job. Stage and worker names are encoded once per call.
local encodedNames = {}
local function firstStageTimings(stage, startedAt, worker, now)
  local encodedStage, encodedWorker = encodedNames[stage], encodedNames[worker]
  if not encodedStage then encodedStage = cjson.encode(stage); encodedNames[stage] = encodedStage end
  if not encodedWorker then encodedWorker = cjson.encode(worker); encodedNames[worker] = encodedWorker end
  return '{' .. encodedStage .. ':{"attempts":1,"started_at":' .. startedAt .. ',"finished_at":' .. now ..
    ',"worker":' .. encodedWorker .. '}}'
end
