import type { RedisClient } from '../redis.js';
import type { Lane, QueueKeys } from '../keys.js';
import { fieldsOf } from '../redis-replies.js';

export type JobSnapshot =
  | { kind: 'record'; fields: Record<string, string> }
  | { kind: 'entry'; stage: string; lane: Lane; entryId: string; fields: Record<string, string>; running: RecordlessAttempt | undefined };

/** The first attempt of a job that has no record yet (see recordless.lua): when it started, and where. */
export interface RecordlessAttempt {
  startedAt: number;
  worker: string;
}

/**
 * One consistent read of a job: its record, or its entry (queued, or in its first attempt) when it
 * has no record yet. With `longestOutput`, a record's stage output or result longer than that many
 * bytes comes cut to its first `longestOutput` bytes, and the field `cut:<name>` gives its whole
 * length (see readJob-2.lua).
 */
export async function readJob(redis: RedisClient, keys: QueueKeys, jobId: string, firstStage: string, longestOutput?: number): Promise<JobSnapshot | undefined> {
  const reply = (await redis.readJob(keys.job(jobId), keys.queued, keys.base, jobId, firstStage, keys.queue, ...(longestOutput === undefined ? [] : [longestOutput]))) as
    | ['record', string[]]
    | ['entry', Lane, string, string[], string, string, string]
    | null;
  if (!reply) return undefined;
  if (reply[0] === 'record') return { kind: 'record', fields: fieldsOf(reply[1]) };
  const [, lane, entryId, fields, stage, startedAt, worker] = reply;
  const running = startedAt === '' ? undefined : { startedAt: Number(startedAt), worker };
  return { kind: 'entry', stage, lane, entryId, fields: fieldsOf(fields), running };
}
