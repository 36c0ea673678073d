import type { RedisClient } from '../redis.js';
import type { QueueKeys } from '../keys.js';
import { callToken, keepCallMs } from './call-token.js';
import type { TakenJob } from './take.js';

export type FailOutcome = 'retrying' | 'dead' | 'no-record' | 'not-current-attempt';

const outcomes: Record<number, FailOutcome> = { 1: 'retrying', 2: 'dead', [-1]: 'no-record', [-2]: 'not-current-attempt' };

export interface AttemptError {
  message: string;
  name?: string;
  code?: string;
  retryable: boolean;
  stage: string;
  attempt: number;
  /** When the attempt failed (ms since the epoch). */
  at: number;
  worker?: string;
}

/**
 * Records a failed attempt: acks the entry, keeps the error, and schedules a retry after
 * `retryDelayMs` (undefined: never, dead-letter now) while attempts remain. Refused for a
 * stale attempt. Redis keeps the outcome for `leaseMs` and a minute more, for the same call sent
 * again after its reply was lost (see keepCallMs).
 */
export async function failAttempt(
  redis: RedisClient,
  keys: QueueKeys,
  job: TakenJob,
  error: AttemptError,
  retryDelayMs: number | undefined,
  defaultMaxAttempts: number,
  retentionSeconds: number,
  leaseMs?: number,
): Promise<FailOutcome> {
  const reply = await redis.fail(
    keys.stream(job.stage, job.lane),
    keys.job(job.jobId),
    keys.active,
    keys.delayed,
    keys.dead,
    keys.base,
    job.stage,
    job.lane,
    job.entryId,
    job.attempt,
    JSON.stringify(error),
    retryDelayMs ?? -1,
    defaultMaxAttempts,
    retentionSeconds,
    callToken(),
    keepCallMs(leaseMs),
  );
  return outcomes[reply]!;
}
