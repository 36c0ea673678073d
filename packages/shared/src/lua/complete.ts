import type { Redis } from 'ioredis';
import type { QueueKeys } from '../keys.js';
import type { TakenJob } from './take.js';

export type CompleteOutcome = 'completed' | 'advanced' | 'no-record' | 'not-current-attempt';

const outcomes: Record<number, CompleteOutcome> = { 1: 'completed', 2: 'advanced', [-1]: 'no-record', [-2]: 'not-current-attempt' };

/**
 * Finishes the stage a worker holds: acks the entry and writes the output, then queues the
 * job on `nextStage` or, when that is '', marks it completed. Refused for a stale attempt.
 */
export async function completeStage(
  redis: Redis,
  keys: QueueKeys,
  job: TakenJob,
  output: string,
  nextStage: string,
  retentionSeconds: number,
): Promise<CompleteOutcome> {
  const reply = await redis.complete(
    keys.stream(job.stage, job.lane),
    keys.job(job.jobId),
    keys.active,
    nextStage === '' ? keys.active : keys.stream(nextStage, job.lane),
    keys.base,
    job.stage,
    job.lane,
    job.entryId,
    job.attempt,
    output,
    nextStage,
    retentionSeconds,
  );
  return outcomes[reply]!;
}
