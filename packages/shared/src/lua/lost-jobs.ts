import type { RedisClient } from '../redis.js';
import type { QueueKeys } from '../keys.js';

/** Queued-index lines one findLostJobs call looks at (a hint to HSCAN): about 2 ms of Redis. */
export const LOST_JOBS_PAGE = 500;

export interface LostJobsPage {
  /** Where the walk goes on from; '0' when it went round the whole index. */
  cursor: string;
  /** The jobs found lost, now dead-lettered with ENTRY_LOST. */
  lost: string[];
}

/**
 * Looks at one page of `keys`' queued index for jobs the API queued whose stream entry another
 * client deleted before any worker read it, and dead-letters them (see lostJobs.lua). Start a
 * walk at cursor '0' and go on with the cursor each page returns; any number of workers may walk.
 */
export async function findLostJobs(redis: RedisClient, keys: QueueKeys, firstStage: string, cursor: string, retentionSeconds: number): Promise<LostJobsPage> {
  const [next, lost] = await redis.findLostJobs(keys.queued, keys.base, firstStage, cursor, LOST_JOBS_PAGE, retentionSeconds);
  return { cursor: String(next), lost };
}
