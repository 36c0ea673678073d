import type { RedisClient } from '../redis.js';
import type { QueueKeys } from '../keys.js';

export interface PromoteResult {
  moved: number;
  /** Due time (ms since the epoch) of the next job still waiting, if any. */
  nextDueAt: number | undefined;
}

/** Queues the delayed jobs whose time has come; safe for any number of workers to call. */
export async function promoteDueJobs(redis: RedisClient, keys: QueueKeys, limit = 500): Promise<PromoteResult> {
  const [moved, next] = await redis.promote(keys.delayed, keys.base, limit);
  return { moved, nextDueAt: next < 0 ? undefined : next };
}
