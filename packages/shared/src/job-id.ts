import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';

/**
 * A job ID is `<queue>:<ULID>`: readable, sortable by creation time, and it routes to its
 * queue without a lookup. It stays the same through retries and stages. Jobs XADDed straight
 * into a stream by another producer are named `<queue>:<entry ID>` instead.
 */

/**
 * ULID's randomness, drawn from a pool filled 4 KiB at a time: the default draws from the
 * CSPRNG once per character, which was a tenth of the API's CPU time under load.
 */
const pool = new Uint8Array(4_096);
let poolOffset = pool.length;
function pooledRandom(): number {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  return pool[poolOffset++]! / 256;
}

const nextUlid = monotonicFactory(pooledRandom);

export function newJobId(queue: string): string {
  return `${queue}:${nextUlid()}`;
}

/**
 * The ID of a job XADDed straight into a stage stream by another producer, named after its entry
 * (as directJobs.lua names it): entry IDs are unique per stream only, so the name says which
 * stream unless it is the first stage's normal lane.
 */
export function directJobId(queue: string, firstStage: string, stage: string, lane: string, entryId: string): string {
  if (stage !== firstStage) return `${queue}:${stage}:${lane}:${entryId}`;
  return lane === 'normal' ? `${queue}:${entryId}` : `${queue}:${lane}:${entryId}`;
}

/** The queue a job ID belongs to, or undefined when the ID has no queue part. */
export function queueOfJobId(jobId: string): string | undefined {
  const separator = jobId.indexOf(':');
  if (separator <= 0 || separator === jobId.length - 1) return undefined;
  return jobId.slice(0, separator);
}
