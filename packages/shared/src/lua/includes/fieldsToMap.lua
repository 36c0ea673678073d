-- A flat {k1, v1, k2, v2, ...} reply as a table.
local function fieldsToMap(fields)
  local map = {}
  for i = 1, #fields, 2 do
    map[fields[i]] = fields[i + 1]
  end
  return map
end
