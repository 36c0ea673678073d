import type { RedisClient } from '../redis.js';
import type { QueueKeys } from '../keys.js';

/** Most jobs one promote call moves: a call is one atomic step, so a large one would hold Redis. */
export const PROMOTE_BATCH = 500;

export interface PromoteResult {
  moved: number;
  /** The jobs queued, in due order. */
  jobIds: string[];
  /**
   * How long until the next job still waiting is due (ms, by Redis's clock, so a worker whose
   * clock is off still wakes on time), if any.
   */
  nextDueInMs: number | undefined;
  /** Due jobs whose record another client deleted while they waited: dead-lettered RECORD_LOST. */
  recordLost: string[];
}

/** Queues up to PROMOTE_BATCH delayed jobs whose time has come; safe for any number of workers to call. */
export async function promoteDueJobs(redis: RedisClient, keys: QueueKeys, retentionSeconds: number): Promise<PromoteResult> {
  const [jobIds, dueIn, recordLost] = await redis.promote(keys.delayed, keys.base, PROMOTE_BATCH, retentionSeconds);
  return { moved: jobIds.length, jobIds, nextDueInMs: dueIn < 0 ? undefined : dueIn, recordLost };
}
