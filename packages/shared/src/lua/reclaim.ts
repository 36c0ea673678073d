import type { RedisClient } from '../redis.js';
import { groupName, type QueueKeys } from '../keys.js';
import { callToken, keepCallMs } from './call-token.js';
import { laneFlags, parseDeadOut, parseJobLine, stageArgs, type DeadOut, type TakenJob, type TakeRequest } from './take.js';

export interface ReclaimResult {
  jobs: TakenJob[];
  /** Entries deleted from the stream while pending, whose attempts were failed. */
  lost: number;
  /** The jobs (of `jobs`) that a stopping worker released, rather than let their lease lapse. */
  released: ReadonlySet<TakenJob>;
  /** The call was sent again after its reply was lost, and replied what Redis had done (see includes/repeatedCall.lua). */
  repeated: boolean;
  /** Jobs dead-lettered instead of taken over. */
  deadOut: DeadOut[];
}

/**
 * Takes over up to `count` entries of a stage held past their holder's lease, and starts them.
 * Each holder's own LEASE_MS counts (QueueKeys.leases); `fallbackLeaseMs`, the asking worker's,
 * is the lease of a holder that names none (a client outside Conveyor reading in the group).
 */
export async function reclaimStale(redis: RedisClient, keys: QueueKeys, request: TakeRequest, fallbackLeaseMs: number): Promise<ReclaimResult> {
  const [high, normal, low, active, ...stage] = stageArgs(keys, request);
  const [lines, lost, released, repeated, deadOut] = (await redis.reclaim(
    high!,
    normal!,
    low!,
    active!,
    keys.leases,
    ...stage,
    request.count,
    fallbackLeaseMs,
    laneFlags(request.lanes),
    callToken(),
    keepCallMs(request.leaseMs),
  )) as [string[], number, number[], 0 | 1, string[]];
  const jobs = lines.map((line) => parseJobLine(keys.queue, request.stage, line));
  return { jobs, lost, released: new Set(jobs.filter((_, i) => released[i] === 1)), repeated: repeated === 1, deadOut: parseDeadOut(deadOut) };
}

/** How many entries of `stage` are held past their holder's lease (as reclaimStale sees them), up to `most`. Reads only. */
export async function countLapsed(redis: RedisClient, keys: QueueKeys, stage: string, fallbackLeaseMs: number, most: number): Promise<number> {
  if (most <= 0) return 0;
  return redis.lapsed(...keys.laneStreams(stage), keys.leases, groupName(stage), fallbackLeaseMs, most);
}

/** Cursors of `recoverOwn`, one per lane; '' once a lane is read to its end. */
export type RecoveryCursors = [string, string, string];

/**
 * Re-reads this consumer's own pending entries (a worker restarted under the same name) and
 * starts up to `count` of them. Call again with the returned cursors until all are ''.
 */
export async function recoverOwn(
  redis: RedisClient,
  keys: QueueKeys,
  request: Omit<TakeRequest, 'lanes'>,
  cursors: RecoveryCursors = ['0', '0', '0'],
): Promise<{ jobs: TakenJob[]; cursors: RecoveryCursors; repeated: boolean; deadOut: DeadOut[] }> {
  const [lines, next, repeated, deadOut] = (await redis.recover(...stageArgs(keys, request), request.count, ...cursors, callToken(), keepCallMs(request.leaseMs))) as [
    string[],
    RecoveryCursors,
    0 | 1,
    string[],
  ];
  return { jobs: lines.map((line) => parseJobLine(keys.queue, request.stage, line)), cursors: next, repeated: repeated === 1, deadOut: parseDeadOut(deadOut) };
}

/**
 * Lets go of this consumer's own pending entries of `stage` past `cursors` (where recoverOwn
 * stopped for want of free slots), for any worker's next takeover: each is given `idleMs` of idle
 * time. Returns how many.
 */
export async function letGoOwn(redis: RedisClient, keys: QueueKeys, stage: string, consumer: string, idleMs: number, cursors: RecoveryCursors): Promise<number> {
  return redis.letGoOwn(...keys.laneStreams(stage), groupName(stage), consumer, idleMs, ...cursors);
}
