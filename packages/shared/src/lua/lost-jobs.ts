import type { RedisClient } from '../redis.js';
import type { QueueKeys } from '../keys.js';

/**
 * Queued-index lines one findLostJobs call looks at (a hint to HSCAN): about 2 ms of Redis, most
 * of it for the page itself (an entry that cannot have been deleted is not looked up).
 */
export const LOST_JOBS_PAGE = 1_000;

export interface LostJobsPage {
  /** Where the walk goes on from; '0' when it went round the whole index. */
  cursor: string;
  /** Jobs the API queued, found lost with their input and now dead-lettered with ENTRY_LOST. */
  lost: string[];
  /** Jobs with a record, queued again from it on a new entry. */
  requeued: string[];
}

/**
 * Looks at one page of `keys`' queued index for jobs whose stream entry another client deleted
 * before any worker read it: a job with a record is queued again from it, a job the API queued
 * without one is dead-lettered (see lostJobs.lua). Start a walk at cursor '0' and go on with the
 * cursor each page returns; any number of workers may walk.
 */
export async function findLostJobs(redis: RedisClient, keys: QueueKeys, firstStage: string, cursor: string, retentionSeconds: number): Promise<LostJobsPage> {
  const [next, lost, requeued] = await redis.findLostJobs(keys.queued, keys.base, firstStage, cursor, LOST_JOBS_PAGE, retentionSeconds);
  return { cursor: String(next), lost, requeued };
}
