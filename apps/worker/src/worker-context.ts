import { findPipeline, firstStage, type Logger, type Pipeline, type QueueKeys, type WorkerConfig, type RedisClient, type DeadOut } from '@conveyor/shared';
import type { LoadBudget } from './load-budget.js';
import type { WorkerMetrics } from './metrics.js';
import type { ForeignKeys } from './foreign-keys.js';
import type { RedisRefusals } from './redis-refusals.js';
import type { Slots } from './slots.js';

/** What the parts of a worker share: settings, the command connection, the slots. */
export interface WorkerContext {
  config: WorkerConfig;
  logger: Logger;
  /** Scripts and plain commands; concurrent callers' commands are in flight together. */
  redis: RedisClient;
  consumer: string;
  slots: Slots;
  /** Bytes of documents and stage outputs the running jobs may load at once (LOAD_BUDGET). */
  loadBudget: LoadBudget;
  metrics: WorkerMetrics;
  retentionSeconds: number;
  keysOf(queue: string): QueueKeys;
  /** True while the worker takes new jobs. */
  isTaking(): boolean;
  /** When Redis last refused a write or failed to answer (no job is taken over for a lease after). */
  refusals: RedisRefusals;
  /** Names the keys of a queue another program filled, when Redis answers WRONGTYPE. */
  foreignKeys: ForeignKeys;
}

/** A stage this worker serves, with its neighbours in the pipeline. */
export interface ServedStage {
  pipeline: Pipeline;
  stage: string;
  previous: string;
  next: string;
}

/** What failing an attempt of a queue needs: its default max attempts and the record retention. */
export function attemptPolicy(ctx: WorkerContext, queue: string) {
  return { defaultMaxAttempts: findPipeline(queue)?.maxAttempts ?? ctx.config.MAX_ATTEMPTS, retentionSeconds: ctx.retentionSeconds };
}

/**
 * Says that a call's reply was lost with its connection and the call, sent again, replied what
 * Redis had done the first time (see repeatedCall.lua in packages/shared): its jobs are run now,
 * not left unheld until their lease lapses.
 */
export function noteRepeatedCall(ctx: WorkerContext, call: string, queue: string, jobs: number): void {
  ctx.logger.info({ call, queue, jobs }, 'a call sent again after its reply was lost replied what Redis had done the first time');
}

/**
 * Logs and counts the jobs a take, a takeover or a restarted worker's re-read dead-lettered
 * instead of starting (see DeadOut), and those an attempt's refused outcome or a promotion
 * dead-lettered for a record that was gone. The script did it, so without this they were dead in
 * GET /queues and in no log line or metric.
 */
export function noteDeadOut(ctx: WorkerContext, queue: string, stage: string, deadOut: readonly DeadOut[]): void {
  for (const { jobId, code, stalls } of deadOut) {
    ctx.metrics.dead.inc({ queue, stage });
    if (code === 'STALLED') {
      ctx.logger.error(
        { job_id: jobId, stage, stalls, code },
        `job dead-lettered: the workers holding it stopped before it finished ${stalls === 1 ? 'once' : `${stalls} times`}, more than MAX_STALLS (${ctx.config.MAX_STALLS}) allows; POST /jobs/${jobId}/retry runs it again`,
      );
    } else {
      ctx.logger.error({ job_id: jobId, stage, code }, "job dead-lettered: its record is gone, and its input with it (another Redis client deleted it while the job waited or ran, or added an entry naming a job that never existed); submit it again");
    }
  }
}

/** A job an attempt's refused outcome or a promotion dead-lettered RECORD_LOST (see noteDeadOut). */
export function recordLost(jobId: string): DeadOut {
  return { jobId, code: 'RECORD_LOST', stalls: 0 };
}

/** The arguments every take, reclaim and recover of a stage shares. */
export function stageRequest(ctx: WorkerContext, served: ServedStage) {
  return {
    stage: served.stage,
    previousStage: served.previous,
    consumer: ctx.consumer,
    defaultMaxAttempts: served.pipeline.maxAttempts ?? ctx.config.MAX_ATTEMPTS,
    retentionSeconds: ctx.retentionSeconds,
    maxStalls: ctx.config.MAX_STALLS,
    firstStage: firstStage(served.pipeline),
    leaseMs: ctx.config.LEASE_MS,
  };
}
