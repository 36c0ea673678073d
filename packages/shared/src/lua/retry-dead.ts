import type { RedisClient } from '../redis.js';
import type { QueueKeys } from '../keys.js';
import { findPipeline } from '../partitions.js';
import { firstStage } from '../pipelines.js';

export type RetryOutcome = { ok: true } | { ok: false; reason: 'not-found' } | { ok: false; reason: 'not-dead'; status: string };

/** Queues a dead-lettered job again on the stage where it died, keeping its ID and history. */
export async function retryDeadJob(redis: RedisClient, keys: QueueKeys, jobId: string): Promise<RetryOutcome> {
  const pipeline = findPipeline(keys.queue);
  const [code, status] = await redis.retryDead(keys.job(jobId), keys.dead, keys.queued, keys.base, jobId, pipeline ? firstStage(pipeline) : '');
  if (code === 1) return { ok: true };
  if (code === -1) return { ok: false, reason: 'not-found' };
  return { ok: false, reason: 'not-dead', status: status! };
}
