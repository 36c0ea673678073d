-- Redis server time in milliseconds: one clock for every worker and API process,
-- so leases, backoffs and timestamps never depend on a host's clock.
local function nowMs()
  local t = rcall('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
