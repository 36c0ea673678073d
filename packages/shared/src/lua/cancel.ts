import type { RedisClient } from '../redis.js';
import type { QueueKeys } from '../keys.js';

export type CancelOutcome =
  | { ok: true; previousStatus: string }
  | { ok: false; reason: 'not-found' }
  | { ok: false; reason: 'finished'; status: string };

/** Cancels a job that has not finished; an active one's worker is told on `controlChannel`. */
export async function cancelJob(
  redis: RedisClient,
  keys: QueueKeys,
  jobId: string,
  firstStage: string,
  retentionSeconds: number,
  controlChannel: string,
): Promise<CancelOutcome> {
  const [code, status] = await redis.cancel(keys.job(jobId), keys.queued, keys.base, jobId, firstStage, keys.queue, retentionSeconds, controlChannel);
  if (code === 1) return { ok: true, previousStatus: status! };
  if (code === -1) return { ok: false, reason: 'not-found' };
  return { ok: false, reason: 'finished', status: status! };
}
