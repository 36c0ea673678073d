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
  /** The job of the page at `cursor` to go on from ('' for none): a call that read its budget of entries stops early (see findLostJobs-1.lua). */
  resume: string;
  /** Jobs the API queued, found lost with their input and now dead-lettered with ENTRY_LOST. */
  lost: string[];
  /** Jobs with a record, queued again from it on a new entry. */
  requeued: string[];
  /** Jobs whose running first attempt no worker could end or take over (its worker dead, its stream deleted whole), failed: retried or dead-lettered. */
  failed: string[];
  /** Jobs whose entry a client that is not a Conveyor worker took from the stage's group (read and acknowledged, or skipped), dead-lettered with TAKEN_OUTSIDE. */
  outside: string[];
}

/** Where a walk of the queued index is: start one at `WALK_START`, and go on from each page's answer. */
export type WalkPosition = Pick<LostJobsPage, 'cursor' | 'resume'>;
export const WALK_START: WalkPosition = { cursor: '0', resume: '' };

/**
 * Looks at one page of `keys`' queued index for jobs whose stream entry another client deleted
 * before any worker read it: a job with a record is queued again from it, a job the API queued
 * without one is dead-lettered (see lostJobs.lua). Jobs whose entry another client took from the
 * stage's group are dead-lettered, to be retried (see takenOutside.lua). Any number of workers may walk.
 */
export async function findLostJobs(redis: RedisClient, keys: QueueKeys, firstStage: string, from: WalkPosition, retentionSeconds: number, defaultMaxAttempts: number): Promise<LostJobsPage> {
  const [cursor, lost, requeued, resume, failed, outside] = await redis.findLostJobs(keys.queued, keys.base, firstStage, from.cursor, LOST_JOBS_PAGE, retentionSeconds, from.resume, defaultMaxAttempts);
  return { cursor: String(cursor), resume: String(resume), lost, requeued, failed, outside };
}
