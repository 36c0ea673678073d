import type { RedisClient } from '../redis.js';
import { LANES, type Lane, type QueueKeys } from '../keys.js';
import { callToken, keepCallMs } from './call-token.js';

/** A job a worker holds: what it runs, and the token (entry, attempt) that proves it may finish it. */
export interface TakenJob {
  queue: string;
  stage: string;
  lane: Lane;
  jobId: string;
  entryId: string;
  attempt: number;
  maxAttempts: number;
  /** The job's input as stored (JSON). */
  payload: string;
  /**
   * The previous stage's output (JSON), when this is not the first stage; undefined too when it
   * is longer than MAX_INLINE_INPUT (1 MiB), which the scripts leave out of what they reply.
   */
  input: string | undefined;
  /** Bytes of the previous stage's output (0 for none), whether in `input` or left out. */
  inputBytes: number;
  timeoutMs: number | undefined;
  /** Per-job backoff override (JSON), when the job has one. */
  backoff: string | undefined;
  createdAt: number;
  /** When the job was queued on this stage (ms since the epoch): the start of its wait. */
  queuedAt: number;
}

export interface TakeRequest {
  stage: string;
  previousStage: string;
  consumer: string;
  count: number;
  defaultMaxAttempts: number;
  retentionSeconds: number;
  /** Lapsed leases a job may have before it is dead-lettered. */
  maxStalls: number;
  /** The queue's first stage, which names jobs XADDed by other producers; `stage` when `previousStage` is ''. */
  firstStage?: string;
  /** The lanes to read, in priority order. */
  lanes: readonly Lane[];
  /** Lower-lane jobs waiting longer than this (ms) are taken first; 0 for strict priority. */
  agingMs?: number;
  /**
   * The taker's lease (LEASE_MS; 30 s when not given). Redis keeps what a call took for this long
   * and a minute more (see keepCallMs), so that the same call sent again replies it instead of
   * taking more (see includes/repeatedCall.lua).
   */
  leaseMs?: number;
}

/**
 * A job a take, takeover or re-read dead-lettered instead of starting it: STALLED, its lease
 * lapsed once more than max stalls allows; RECORD_LOST, its record was deleted while it waited or
 * ran, and its input with it.
 */
export interface DeadOut {
  jobId: string;
  code: 'STALLED' | 'RECORD_LOST';
  stalls: number;
}

/** The scripts' deadOut lines ('<job ID> <code> <stalls>'). */
export function parseDeadOut(lines: readonly string[] | undefined): DeadOut[] {
  return (lines ?? []).map((line) => {
    const [jobId, code, stalls] = line.split(' ');
    return { jobId: jobId!, code: code as DeadOut['code'], stalls: Number(stalls) };
  });
}

export interface TakeResult {
  jobs: TakenJob[];
  /** When every lane ran dry: the last entry ID per lane read, to block on until a new entry arrives. */
  wait: Map<Lane, string> | undefined;
  /** The call was sent again after its reply was lost, and replied what Redis had done (see includes/repeatedCall.lua). */
  repeated?: boolean;
  /** Jobs dead-lettered instead of started. */
  deadOut: DeadOut[];
}

/**
 * A started job as the scripts reply it, one line per job (see jobLine in startJob.lua):
 * `<job ID> <lane> <entry ID> <attempt> <max attempts> <timeout ms or -> <created at> <queued at>
 * <bytes of backoff> <bytes of input> <backoff><input><payload>`; the bytes of an input left out
 * of the line (over MAX_INLINE_INPUT) are negated.
 */
export function parseJobLine(queue: string, stage: string, line: string): TakenJob {
  let at = 0;
  const token = () => {
    const end = line.indexOf(' ', at);
    const value = line.slice(at, end);
    at = end + 1;
    return value;
  };
  const jobId = token();
  const lane = token() as Lane;
  const entryId = token();
  const attempt = Number(token());
  const maxAttempts = Number(token());
  const timeoutMs = token();
  const createdAt = Number(token());
  const queuedAt = Number(token());
  const backoffBytes = Number(token());
  // Negative when the input was left out of the line (see MAX_INLINE_INPUT): its bytes, negated.
  const inputToken = Number(token());
  const inlineBytes = Math.max(0, inputToken);
  let backoff: string;
  let input: string;
  let payload: string;
  if (Buffer.byteLength(line) === line.length) {
    // All ASCII (the common case): the byte lengths are character counts.
    backoff = line.slice(at, at + backoffBytes);
    input = line.slice(at + backoffBytes, at + backoffBytes + inlineBytes);
    payload = line.slice(at + backoffBytes + inlineBytes);
  } else {
    const rest = Buffer.from(line.slice(at));
    backoff = rest.toString('utf8', 0, backoffBytes);
    input = rest.toString('utf8', backoffBytes, backoffBytes + inlineBytes);
    payload = rest.toString('utf8', backoffBytes + inlineBytes);
  }
  return {
    queue,
    stage,
    lane,
    jobId,
    entryId,
    attempt,
    maxAttempts,
    payload,
    input: input === '' ? undefined : input,
    inputBytes: Math.abs(inputToken),
    timeoutMs: timeoutMs === '-' ? undefined : Number(timeoutMs),
    backoff: backoff === '' ? undefined : backoff,
    createdAt,
    queuedAt,
  };
}

/** What take, reclaim and recover all pass first: the stage's streams, then the stage context. */
export function stageArgs(keys: QueueKeys, request: Omit<TakeRequest, 'count' | 'lanes'>): (string | number)[] {
  return [
    ...keys.laneStreams(request.stage),
    keys.active,
    keys.base,
    keys.queue,
    request.stage,
    request.previousStage,
    request.consumer,
    request.defaultMaxAttempts,
    request.retentionSeconds,
    request.maxStalls,
    request.firstStage ?? (request.previousStage === '' ? request.stage : ''),
  ];
}

export function laneFlags(lanes: readonly Lane[]): string {
  return LANES.map((lane) => (lanes.includes(lane) ? '1' : '0')).join('');
}

/** Takes up to `count` jobs of one stage (high lane first) and starts them, atomically. */
export async function takeJobs(redis: RedisClient, keys: QueueKeys, request: TakeRequest): Promise<TakeResult> {
  const [lines, wait, repeated, deadOut] = (await redis.take(...stageArgs(keys, request), request.count, laneFlags(request.lanes), request.agingMs ?? 0, callToken(), keepCallMs(request.leaseMs))) as [
    string[],
    string[],
    0 | 1,
    string[],
  ];
  return parseTakeReply(keys, request, lines, wait, repeated === 1, deadOut);
}

/** What a take (alone, or along with a completion) replied: the jobs, and where to wait when the lanes ran dry. */
export function parseTakeReply(keys: QueueKeys, request: TakeRequest, lines: string[], wait: string[], repeated: boolean, deadOut: string[]): TakeResult {
  return {
    jobs: lines.map((line) => parseJobLine(keys.queue, request.stage, line)),
    wait: wait.length === 0 ? undefined : new Map(request.lanes.map((lane) => [lane, wait[LANES.indexOf(lane)]!])),
    repeated,
    deadOut: parseDeadOut(deadOut),
  };
}
