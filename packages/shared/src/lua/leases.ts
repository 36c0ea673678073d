import type { RedisClient } from '../redis.js';
import type { QueueKeys } from '../keys.js';
import { callToken, keepCallMs } from './call-token.js';
import type { TakenJob } from './take.js';

function heldArgs(jobs: readonly TakenJob[]): (string | number)[] {
  return jobs.flatMap((job) => [job.stage, job.lane, job.entryId, job.jobId, job.attempt]);
}

/** What renewing and releasing need to fail an attempt whose entry was deleted under it. */
export interface LostEntryPolicy {
  defaultMaxAttempts: number;
  retentionSeconds: number;
}

/** The lease a worker holds its jobs by, named in the queue's leases hash (see leaseNames.lua). */
export interface LeaseName {
  /** Its LEASE_MS: a takeover of what it holds waits this out. */
  leaseMs: number;
  /** Its CONSUMER_RETENTION: how long the name stays after the worker last said it (at least the lease). */
  keepMs: number;
}

/**
 * Renews the leases of jobs of one queue that a consumer holds, and names its lease (`lease`).
 * Returns the jobs that are lost: taken over after their lease lapsed, cancelled, or whose entry
 * was deleted (their attempt fails and they are queued again). Their worker must stop them.
 */
export async function renewLeases(redis: RedisClient, keys: QueueKeys, consumer: string, jobs: readonly TakenJob[], policy: LostEntryPolicy, lease: LeaseName): Promise<TakenJob[]> {
  if (jobs.length === 0) return [];
  const lost = await redis.renew(keys.active, keys.base, consumer, policy.defaultMaxAttempts, policy.retentionSeconds, lease.leaseMs, lease.keepMs, ...heldArgs(jobs));
  return lost.map((position) => jobs[position - 1]!);
}

/**
 * Lets go of held jobs for another worker to take at once (a stopping worker's last step).
 * The interrupted attempts do not count against the jobs' max attempts. Redis keeps the count
 * for `idleMs` and a minute more, for the same call sent again (see keepCallMs).
 */
export async function releaseJobs(
  redis: RedisClient,
  keys: QueueKeys,
  consumer: string,
  jobs: readonly TakenJob[],
  idleMs: number,
  policy: LostEntryPolicy,
): Promise<number> {
  if (jobs.length === 0) return 0;
  return redis.release(keys.active, keys.base, consumer, idleMs, policy.defaultMaxAttempts, policy.retentionSeconds, callToken(), keepCallMs(idleMs), ...heldArgs(jobs));
}
