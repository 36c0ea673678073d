import type { Redis } from 'ioredis';
import type { Lane, QueueKeys } from '../keys.js';
import type { JobOptions } from '../schemas/job-options.js';
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
  /** Most undone jobs a stage may hold; 0 for no limit. */
  maxBacklog: number;
}

export type EnqueueOutcome =
  | { ok: true; jobs: { id: string; created: boolean }[] }
  | { ok: false; reason: 'idempotency-conflict'; index: number }
  | { ok: false; reason: 'backlog-full'; backlog: number; limit: number };

/** Enqueues jobs on the first stage of a queue, all or none. */
export async function enqueueJobs(
  redis: Redis,
  keys: QueueKeys,
  stage: string,
  jobs: readonly NewJob[],
  limits: EnqueueLimits,
): Promise<EnqueueOutcome> {
  // Plain jobs (the common batch) send three values each instead of eight.
  const plain = jobs.every((job) => !hasOptions(job) && job.document === undefined && job.runAt === undefined && job.idempotencyKey === undefined);
  const args: (string | number | Buffer)[] = [keys.queued, keys.delayed, keys.base, stage, limits.idempotencyTtlSeconds, limits.maxBacklog, jobs.length, plain ? 3 : 8];
  for (const job of jobs) {
    if (plain) {
      args.push(job.id, job.lane, job.payload);
    } else {
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

function hasOptions(job: NewJob): boolean {
  if (!job.options) return false;
  for (const _ in job.options) return true;
  return false;
}
