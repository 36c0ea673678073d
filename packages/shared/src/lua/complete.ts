import type { RedisClient } from '../redis.js';
import type { QueueKeys } from '../keys.js';
import { callToken, keepCallMs } from './call-token.js';
import { laneFlags, parseTakeReply, stageArgs, type TakeRequest, type TakeResult, type TakenJob } from './take.js';

export type CompleteOutcome = 'completed' | 'advanced' | 'no-record' | 'not-current-attempt';

const outcomes: Record<number, CompleteOutcome> = { 1: 'completed', 2: 'advanced', [-1]: 'no-record', [-2]: 'not-current-attempt' };

/** One finished stage: the attempt a worker held, its output (JSON), and the stage after it ('' for none). */
export interface Completion {
  job: TakenJob;
  output: string;
  nextStage: string;
}

export interface CompleteResult {
  /** Each completion's outcome, in order. */
  outcomes: CompleteOutcome[];
  /** What the take that came along gave (no jobs without one). */
  taken: TakeResult;
  /** The call was sent again after its reply was lost, and replied what Redis had done (see includes/repeatedCall.lua). */
  repeated: boolean;
}

/**
 * Finishes the stages a worker holds, for jobs of one queue, in one script call: each entry is
 * acked and its output written, then its job is queued on its next stage or, when there is none,
 * marked completed. A stale attempt is refused on its own; the others still complete. With
 * `take`, the same call then takes jobs as takeJobs does (for the slots these completions free).
 * Redis keeps what the call did for `leaseMs` and a minute more, for the same call sent again (see keepCallMs).
 */
export async function completeStages(
  redis: RedisClient,
  keys: QueueKeys,
  completions: readonly Completion[],
  retentionSeconds: number,
  take?: TakeRequest,
  leaseMs = take?.leaseMs,
): Promise<CompleteResult> {
  const keyArgs: string[] = [keys.active];
  const args: (string | number)[] = [keys.base, retentionSeconds, callToken(), keepCallMs(leaseMs)];
  if (take) {
    const [high, normal, low, , ...context] = stageArgs(keys, take);
    args.push(12, ...context, take.count, laneFlags(take.lanes), take.agingMs ?? 0);
    keyArgs.push(high as string, normal as string, low as string);
  } else {
    args.push(0);
  }
  // One line of the values that cannot hold a space per job, then its ID and output: two
  // arguments per job instead of nine (see complete-n.lua). A line starts with the job's field
  // in the active index, which the script then need not build.
  let lines = '';
  for (const { job, nextStage } of completions) lines += `${job.stage}:${job.lane}:${job.entryId} ${job.attempt} ${nextStage}\n`;
  args.push(lines);
  for (const { job, output } of completions) args.push(job.jobId, output);
  const [codes, jobLines, wait, repeated, deadOut] = (await redis.complete(keyArgs.length, ...keyArgs, ...args)) as [number[], string[], string[], 0 | 1, string[]];
  return {
    outcomes: codes.map((code) => outcomes[code]!),
    taken: take ? parseTakeReply(keys, take, jobLines, wait, repeated === 1, deadOut) : { jobs: [], wait: undefined, deadOut: [] },
    repeated: repeated === 1,
  };
}

/** Finishes one held stage (see completeStages). */
export async function completeStage(redis: RedisClient, keys: QueueKeys, job: TakenJob, output: string, nextStage: string, retentionSeconds: number): Promise<CompleteOutcome> {
  const { outcomes: [outcome] } = await completeStages(redis, keys, [{ job, output, nextStage }], retentionSeconds);
  return outcome!;
}
