import { directJobId, firstStage, namedJobId, type Pipeline, type QueueKeys, type RedisClient } from '@conveyor/shared';
import { ProblemError } from '../problems/problem-error.js';
import type { HISTORY_STATUSES, HistoryQuery } from '../schemas/history.js';
import { iso, json } from './job-view.js';
import { compareIds, cursorAfter, readStageRange, type StageEntry } from './stream-range.js';

type HistoryStatus = (typeof HISTORY_STATUSES)[number];

/** The job an entry stands for: the one its `job` field names, or the name of a job another producer XADDed. */
export function jobIdOf(pipeline: Pipeline, stage: string, entry: StageEntry): string {
  return namedJobId(pipeline.name, entry.fields['job']) ?? directJobId(pipeline.name, firstStage(pipeline), stage, entry.lane, entry.id);
}

/** The stage a request names, or the queue's first; a stage the queue lacks is a 400. */
export function stageOf(pipeline: Pipeline, stage: string | undefined, path: string): string {
  if (stage === undefined) return firstStage(pipeline);
  if (pipeline.stages.includes(stage)) return stage;
  const message = `Queue "${pipeline.name}" has no stage "${stage}"; its stages: ${pipeline.stages.join(', ')}.`;
  throw new ProblemError('invalid-request', message, { errors: [{ path, message }] });
}

/** A page of a stage's stream history (entries still kept), oldest first, with each job's status now. */
export async function readHistory(redis: RedisClient, keys: QueueKeys, pipeline: Pipeline, query: HistoryQuery) {
  const stage = stageOf(pipeline, query.stage, 'querystring.stage');
  const range = await readStageRange(redis, keys, stage, { source: 'querystring', from: query.from, to: query.to, cursor: query.cursor, limit: query.limit });

  // Each job's status, in one round trip: its record, else its line in the queued index.
  const jobIds = [...new Set(range.entries.map((entry) => jobIdOf(pipeline, stage, entry)))];
  const reads = redis.pipeline();
  for (const jobId of jobIds) reads.hmget(keys.job(jobId), 'status', 'stage').hexists(keys.queued, jobId);
  const replies = (await reads.exec()) ?? [];
  const known = new Map<string, { status: string | null; stage: string | null; indexed: boolean }>();
  jobIds.forEach((jobId, i) => {
    const [recordError, record] = replies[2 * i]!;
    const [indexError, indexed] = replies[2 * i + 1]!;
    if (recordError || indexError) throw recordError ?? indexError;
    const [status, current] = record as [string | null, string | null];
    known.set(jobId, { status, stage: current, indexed: indexed === 1 });
  });

  const entries = range.entries.map((entry) => {
    const jobId = jobIdOf(pipeline, stage, entry);
    const job = known.get(jobId)!;
    const delivered = compareIds(entry.id, range.lastDelivered[entry.lane]) <= 0;
    let status: HistoryStatus = delivered ? 'expired' : 'unknown';
    let jobStage = job.stage;
    if (job.status !== null) status = job.status as HistoryStatus;
    // No record but indexed: queued, or (delivered) in its first attempt, whose record is written when it ends.
    else if (job.indexed) [status, jobStage] = [delivered ? 'active' : 'queued', firstStage(pipeline)];
    // An entry another producer added has no record until a worker takes it.
    else if (!delivered && namedJobId(pipeline.name, entry.fields['job']) === undefined) [status, jobStage] = ['queued', stage];
    return {
      entry_id: entry.id,
      lane: entry.lane,
      added_at: iso(entry.id.split('-')[0]),
      job_id: jobId,
      status,
      job_stage: jobStage,
      fields: Object.fromEntries(Object.entries(entry.fields).map(([name, value]) => [name, name === 'payload' || name === 'opts' ? json(value) : value])),
    };
  });
  return { stage, entries, next_cursor: range.more ? cursorAfter(range.entries.at(-1)!) : null };
}
