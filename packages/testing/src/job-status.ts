import { findPipeline, firstStage, queueOfJobId, QueueKeys, readJob } from '@conveyor/shared';
import type { Redis } from 'ioredis';

/**
 * A job's status as `GET /jobs/:id` reports it: its record's, or for a job without a record
 * (queued, or in a first attempt whose record is written when it ends) `queued` or `active`;
 * undefined when there is no such job.
 */
export async function jobStatus(redis: Redis, prefix: string, jobId: string): Promise<string | undefined> {
  const queue = queueOfJobId(jobId)!;
  const snapshot = await readJob(redis, new QueueKeys(prefix, queue), jobId, firstStage(findPipeline(queue)!));
  if (!snapshot) return undefined;
  if (snapshot.kind === 'record') return snapshot.fields['status'];
  return snapshot.running ? 'active' : 'queued';
}
