-- The queued index (<base>queued) holds a line for every job whose entry waits in a stream for a
-- worker to read it. A job the API queued without a record has '<lane> <entry ID>' (see
-- recordless). A job with a record (a document, a later stage, a delayed job or a retry queued
-- again) has '<lane> <entry ID> <stage>': three parts, which no reader of the first kind takes
-- for one of its own. Its record holds all of it; the line is there so that a job whose entry
-- another client deletes before any worker reads it is found and queued again (see lostJobs).
-- The line goes when a worker takes the entry (see startJob), or reads past it when the job was
-- cancelled while it waited (see cancel).
local function waitingLine(stage, lane, entryId)
  return lane .. ' ' .. entryId .. ' ' .. stage
end
