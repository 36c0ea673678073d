import type { RedisClient } from '../redis.js';
import type { Lane, QueueKeys } from '../keys.js';
import type { JobOptions } from '../schemas/job-options.js';
import { findPipeline } from '../partitions.js';
import { Refusal } from './refusals.js';

export interface NewJob {
  id: string;
  lane: Lane;
  /** The job's input as JSON. */
  payload: string;
  options?: JobOptions;
  document?: Buffer;
  /** Run no earlier than this (ms since the epoch). */
  runAt?: number;
  idempotencyKey?: string;
  /** Digest of the request, to tell a retried request from a different one under the same key. */
  fingerprint?: string;
}

export interface EnqueueLimits {
  idempotencyTtlSeconds: number;
  /** Most undone jobs the queue may hold (waiting or running in any of its stages, delayed or retrying); 0 for no limit. */
  maxBacklog: number;
}

const stagesOfQueue = new Map<string, string>();

/**
 * The stages whose waiting and running jobs count toward MAX_BACKLOG (see queueBacklog), as the
 * scripts take them: space-separated, `stage` (where jobs are queued) first. Every stage of the
 * queue's pipeline; `stage` alone for a queue no pipeline names.
 */
export function backlogStages(queue: string, stage: string): string {
  const key = `${queue} ${stage}`;
  let stages = stagesOfQueue.get(key);
  if (stages === undefined) {
    const pipeline = findPipeline(queue);
    stagesOfQueue.set(key, (stages = pipeline?.stages[0] === stage ? pipeline.stages.join(' ') : stage));
  }
  return stages;
}

export type EnqueueOutcome =
  | { ok: true; jobs: { id: string; created: boolean }[] }
  | { ok: false; reason: 'idempotency-conflict'; index: number }
  | { ok: false; reason: 'backlog-full'; backlog: number; limit: number };

/** Enqueues jobs on the first stage of a queue, all or none. */
export async function enqueueJobs(
  redis: RedisClient,
  keys: QueueKeys,
  stage: string,
  jobs: readonly NewJob[],
  limits: EnqueueLimits,
): Promise<EnqueueOutcome> {
  const args: (string | number | Buffer)[] = [keys.queued, keys.delayed, keys.base, backlogStages(keys.queue, stage), limits.idempotencyTtlSeconds, limits.maxBacklog, jobs.length];
  if (jobs.every(isPlain)) {
    // The common batch: three texts of one line per job instead of three arguments per job
    // (ioredis copies, flattens and frames every argument; thousands of them cost more than this).
    args.push(0, lines(jobs, (job) => job.id), lines(jobs, (job) => job.lane), lines(jobs, (job) => job.payload));
  } else {
    args.push(8);
    for (const job of jobs) {
      const options = hasOptions(job) ? JSON.stringify(job.options) : '';
      args.push(job.id, job.lane, job.payload, options, job.document ?? '', job.runAt ?? 0, job.idempotencyKey ?? '', job.fingerprint ?? '');
    }
  }
  const reply = (await redis.enqueue(...args)) as [number, unknown];
  const [code] = reply;
  if (code === 2) return { ok: true, jobs: jobs.map((job) => ({ id: job.id, created: true })) };
  if (code === Refusal.IdempotencyConflict) return { ok: false, reason: 'idempotency-conflict', index: (reply[1] as number) - 1 };
  if (code === Refusal.BacklogFull) {
    const [, backlog, limit] = reply as unknown as [number, number, number];
    return { ok: false, reason: 'backlog-full', backlog, limit };
  }
  const flat = reply[1] as (string | number)[];
  const outcome: { id: string; created: boolean }[] = [];
  for (let i = 0; i < flat.length; i += 2) outcome.push({ id: String(flat[i]), created: flat[i + 1] === 1 });
  return { ok: true, jobs: outcome };
}

/** A job with nothing but an ID, a lane and a payload, none holding a newline (JSON text never does). */
function isPlain(job: NewJob): boolean {
  return !hasOptions(job) && job.document === undefined && job.runAt === undefined && job.idempotencyKey === undefined && !job.payload.includes('\n') && !job.id.includes('\n');
}

/** One value of each job, one line each. */
function lines(jobs: readonly NewJob[], value: (job: NewJob) => string): string {
  return jobs.map(value).join('\n');
}

function hasOptions(job: NewJob): boolean {
  if (!job.options) return false;
  for (const _ in job.options) return true;
  return false;
}
