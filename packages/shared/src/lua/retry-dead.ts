import type { RedisClient } from '../redis.js';
import type { QueueKeys } from '../keys.js';
import { findPipeline } from '../partitions.js';
import { firstStage } from '../pipelines.js';
import { backlogStages } from './enqueue.js';

export type RetryOutcome =
  | { ok: true }
  | { ok: false; reason: 'not-found' }
  | { ok: false; reason: 'not-dead'; status: string }
  /** Its input is gone: lost with its stream entry before any worker read it (ENTRY_LOST), or with its record (RECORD_LOST). */
  | { ok: false; reason: 'input-lost'; code: 'ENTRY_LOST' | 'RECORD_LOST' }
  | { ok: false; reason: 'backlog-full'; backlog: number; limit: number };

/**
 * Queues a dead-lettered job again on the stage where it died, keeping its ID and history;
 * refused, as a new job is, while the queue holds `maxBacklog` undone jobs (0: no limit).
 */
export async function retryDeadJob(redis: RedisClient, keys: QueueKeys, jobId: string, maxBacklog = 0): Promise<RetryOutcome> {
  const pipeline = findPipeline(keys.queue);
  const first = pipeline ? firstStage(pipeline) : '';
  const [code, status, limit] = await redis.retryDead(keys.job(jobId), keys.dead, keys.queued, keys.base, jobId, first, backlogStages(keys.queue, first), maxBacklog);
  if (code === 1) return { ok: true };
  if (code === -1) return { ok: false, reason: 'not-found' };
  if (code === -7) return { ok: false, reason: 'input-lost', code: status === 'RECORD_LOST' ? 'RECORD_LOST' : 'ENTRY_LOST' };
  if (code === -4) return { ok: false, reason: 'backlog-full', backlog: Number(status), limit: Number(limit) };
  return { ok: false, reason: 'not-dead', status: String(status) };
}
