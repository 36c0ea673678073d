import { monotonicFactory } from 'ulid';

/**
 * A job ID is `<queue>:<ULID>`: readable, sortable by creation time, and it routes to its
 * queue without a lookup. It stays the same through retries and stages. Jobs XADDed straight
 * into a stream by another producer are named `<queue>:<entry ID>` instead.
 */

const nextUlid = monotonicFactory();

export function newJobId(queue: string): string {
  return `${queue}:${nextUlid()}`;
}

/** The queue a job ID belongs to, or undefined when the ID has no queue part. */
export function queueOfJobId(jobId: string): string | undefined {
  const separator = jobId.indexOf(':');
  if (separator <= 0 || separator === jobId.length - 1) return undefined;
  return jobId.slice(0, separator);
}
