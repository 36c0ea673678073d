import type { RedisClient } from '../redis.js';
import type { QueueKeys } from '../keys.js';
import { callToken, keepCallMs } from './call-token.js';
import { laneFlags, parseJobLine, stageArgs, type TakenJob, type TakeRequest } from './take.js';

export interface ReclaimResult {
  jobs: TakenJob[];
  /** Entries deleted from the stream while pending, whose attempts were failed. */
  lost: number;
  /** The jobs (of `jobs`) that a stopping worker released, rather than let their lease lapse. */
  released: ReadonlySet<TakenJob>;
  /** The call was sent again after its reply was lost, and replied what Redis had done (see includes/repeatedCall.lua). */
  repeated: boolean;
}

/** Takes over up to `count` entries of a stage whose lease (`minIdleMs`) lapsed, and starts them. */
export async function reclaimStale(redis: RedisClient, keys: QueueKeys, request: TakeRequest, minIdleMs: number): Promise<ReclaimResult> {
  const [lines, lost, released, repeated] = (await redis.reclaim(...stageArgs(keys, request), request.count, minIdleMs, laneFlags(request.lanes), callToken(), keepCallMs(request.leaseMs))) as [string[], number, number[], 1?];
  const jobs = lines.map((line) => parseJobLine(keys.queue, request.stage, line));
  return { jobs, lost, released: new Set(jobs.filter((_, i) => released[i] === 1)), repeated: repeated === 1 };
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
): Promise<{ jobs: TakenJob[]; cursors: RecoveryCursors; repeated: boolean }> {
  const [lines, next, repeated] = (await redis.recover(...stageArgs(keys, request), request.count, ...cursors, callToken(), keepCallMs(request.leaseMs))) as [string[], RecoveryCursors, 1?];
  return { jobs: lines.map((line) => parseJobLine(keys.queue, request.stage, line)), cursors: next, repeated: repeated === 1 };
}
