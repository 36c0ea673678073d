-- Jobs XADDed straight into a stage stream by another producer are named after their entry.
-- Entry IDs are unique per stream only, and every stage and lane is its own stream, so the name
-- says which stream, except in the common case:
--   <queue>:<entry ID>                   the first stage's normal lane (the seeds' plain XADD)
--   <queue>:<lane>:<entry ID>            another lane of the first stage
--   <queue>:<stage>:<lane>:<entry ID>    a later stage
local function directJobId(queue, firstStage, stage, lane, entryId)
  if stage ~= firstStage then return queue .. ':' .. stage .. ':' .. lane .. ':' .. entryId end
  if lane ~= 'normal' then return queue .. ':' .. lane .. ':' .. entryId end
  return queue .. ':' .. entryId
end

-- Whether `id` (digits, '-', digits) is an entry ID as Redis writes it: each part at most
-- 2^64 - 1, without leading zeros. XRANGE answers a larger one with an error, which would fail the
-- whole script, and takes `01-1` for `1-1`: a job would answer to several names.
local function isEntryId(id)
  for part in string.gmatch(id, '%d+') do
    if #part > 1 and string.sub(part, 1, 1) == '0' then return false end
    if #part > 20 or (#part == 20 and part > '18446744073709551615') then return false end
  end
  return true
end

-- The stream a direct job's name points at: stage, lane, entry ID; nil when it is not such a name.
-- Each entry has one name, the one directJobId gives it: the first stage is never spelled out.
local function directJobLocation(queue, firstStage, jobId)
  if string.sub(jobId, 1, #queue + 1) ~= queue .. ':' then return nil end
  local rest = string.sub(jobId, #queue + 2)
  local stage, lane, entryId = firstStage, 'normal', string.match(rest, '^(%d+%-%d+)$')
  if not entryId then
    lane, entryId = string.match(rest, '^(%a+):(%d+%-%d+)$')
    if lane ~= 'high' and lane ~= 'low' then
      stage, lane, entryId = string.match(rest, '^([%w_.-]+):(%a+):(%d+%-%d+)$')
      if lane ~= 'high' and lane ~= 'normal' and lane ~= 'low' then return nil end
    end
  end
  if not isEntryId(entryId) or directJobId(queue, firstStage, stage, lane, entryId) ~= jobId then return nil end
  return stage, lane, entryId
end

-- The most bytes of a job ID: the API's routes take path segments of 100 characters at most.
local MAX_JOB_ID_BYTES = 100

-- Whether `text` is UTF-8 without U+FFFD: a job's ID must read the same in every client, and one
-- that decodes bytes that are not UTF-8 reads them as U+FFFD (so the worker reported a failure
-- under another ID than the record's, and the job stayed active for ever).
local function isPlainUtf8(text)
  if string.find(text, '\239\191\189', 1, true) then return false end
  local i, n = 1, #text
  while i <= n do
    local c = string.byte(text, i)
    if c < 0x80 then
      i = i + 1
    else
      local length = (c >= 0xC2 and c <= 0xDF and 2) or (c >= 0xE0 and c <= 0xEF and 3) or (c >= 0xF0 and c <= 0xF4 and 4)
      if not length or i + length - 1 > n then return false end
      for k = i + 1, i + length - 1 do
        local b = string.byte(text, k)
        if b < 0x80 or b > 0xBF then return false end
      end
      -- Overlong forms, surrogates and code points past U+10FFFF.
      local second = string.byte(text, i + 1)
      if (c == 0xE0 and second < 0xA0) or (c == 0xED and second > 0x9F) or (c == 0xF0 and second < 0x90) or (c == 0xF4 and second > 0x8F) then return false end
      i = i + length
    end
  end
  return true
end

-- The job an entry's reserved `job` field names, or nil. Conveyor writes it with an ID of the
-- stream's own queue (`<queue>:<id>`), at most MAX_JOB_ID_BYTES of UTF-8 with no spaces or
-- control characters: job lines and the API's routes rely on that. Any other value is another
-- producer's misuse of the field, and the entry is then that producer's plain entry, named after
-- its entry ID. (namedJobId in job-id.ts applies the same rule.)
local function namedJobId(queue, value)
  if not value or #value <= #queue + 1 or #value > MAX_JOB_ID_BYTES or string.sub(value, 1, #queue + 1) ~= queue .. ':' then return nil end
  if string.find(value, '[%c%s]') then return nil end
  if string.find(value, '[\128-\255]') and not isPlainUtf8(value) then return nil end
  return value
end
