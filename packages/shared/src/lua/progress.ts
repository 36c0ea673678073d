import type { RedisClient } from '../redis.js';
import type { QueueKeys } from '../keys.js';
import type { TakenJob } from './take.js';

/** Records a held job's progress (0-100, a message) and publishes it; false if the attempt is no longer current. */
export async function reportProgress(redis: RedisClient, keys: QueueKeys, job: TakenJob, percent: number, message: string): Promise<boolean> {
  const reply = await redis.progress(keys.job(job.jobId), keys.base, job.stage, job.entryId, job.attempt, percent, message, job.lane);
  return reply === 1;
}
