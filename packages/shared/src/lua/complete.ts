import type { Redis } from 'ioredis';
import type { QueueKeys } from '../keys.js';
import type { TakenJob } from './take.js';

export type CompleteOutcome = 'completed' | 'advanced' | 'no-record' | 'not-current-attempt';

const outcomes: Record<number, CompleteOutcome> = { 1: 'completed', 2: 'advanced', [-1]: 'no-record', [-2]: 'not-current-attempt' };

/** One finished stage: the attempt a worker held, its output (JSON), and the stage after it ('' for none). */
export interface Completion {
  job: TakenJob;
  output: string;
  nextStage: string;
}

/**
 * Finishes the stages a worker holds, for jobs of one queue, in one script call: each entry is
 * acked and its output written, then its job is queued on its next stage or, when there is none,
 * marked completed. A stale attempt is refused on its own; the others still complete.
 */
export async function completeStages(redis: Redis, keys: QueueKeys, completions: readonly Completion[], retentionSeconds: number): Promise<CompleteOutcome[]> {
  const keyArgs: string[] = [keys.active];
  const args: (string | number)[] = [keys.base, retentionSeconds];
  for (const { job, output, nextStage } of completions) {
    const record = keys.job(job.jobId);
    keyArgs.push(keys.stream(job.stage, job.lane), record, nextStage === '' ? record : keys.stream(nextStage, job.lane));
    args.push(job.stage, job.lane, job.entryId, job.attempt, output, nextStage);
  }
  const replies = await redis.complete(keyArgs.length, ...keyArgs, ...args);
  return replies.map((reply) => outcomes[reply]!);
}

/** Finishes one held stage (see completeStages). */
export async function completeStage(redis: Redis, keys: QueueKeys, job: TakenJob, output: string, nextStage: string, retentionSeconds: number): Promise<CompleteOutcome> {
  const [outcome] = await completeStages(redis, keys, [{ job, output, nextStage }], retentionSeconds);
  return outcome!;
}
