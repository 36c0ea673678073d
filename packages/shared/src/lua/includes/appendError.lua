-- Appends an error to the record's bounded error history (the newest 20 are kept).
local function appendError(jobKey, errorJson)
  local history = {}
  local stored = rcall('HGET', jobKey, 'errors')
  if stored then history = cjson.decode(stored) end
  table.insert(history, cjson.decode(errorJson))
  while #history > 20 do table.remove(history, 1) end
  rcall('HSET', jobKey, 'errors', cjson.encode(history), 'error', errorJson)
end
