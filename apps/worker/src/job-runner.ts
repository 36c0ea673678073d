import { failAttempt, reportProgress, type AttemptError, type Logger, type TakenJob } from '@conveyor/shared';
import { backoffOf, retryDelay } from './backoff.js';
import { CompletionBatcher } from './completion-batcher.js';
import { NonRetryableError } from './processors/non-retryable-error.js';
import type { Processor, ProcessorHelpers } from './processors/processor.js';
import { attemptPolicy, type ServedStage, type WorkerContext } from './worker-context.js';

/**
 * Why a held job's signal fired. A timeout is a failed attempt. The others end the attempt
 * without a word to Redis: a cancelled job's record already says so, a lost lease means another
 * attempt is current, and a job let go at shutdown was released for another worker.
 */
export type StopReason = 'timeout' | 'cancelled' | 'lease-lost' | 'shutdown';

export class JobStopped extends Error {
  constructor(
    readonly reason: StopReason,
    message: string,
  ) {
    super(message);
    this.name = 'JobStopped';
  }
}

/** A job this worker runs right now. */
export interface HeldJob {
  job: TakenJob;
  served: ServedStage;
  controller: AbortController;
  startedAt: number;
}

function heldKey(job: Pick<TakenJob, 'queue' | 'stage' | 'lane' | 'entryId'>): string {
  return `${job.queue}|${job.stage}|${job.lane}|${job.entryId}`;
}

/**
 * Runs one attempt of one stage: the stage's processor, then the complete or fail script.
 * It never throws: whatever happens ends in a script call, or in the entry staying pending
 * for another worker to reclaim once the lease lapses.
 */
export class JobRunner {
  readonly #held = new Map<string, HeldJob>();
  readonly #completions: CompletionBatcher;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly stages: ReadonlyMap<string, ServedStage>,
    private readonly processors: ReadonlyMap<string, Processor>,
  ) {
    this.#completions = new CompletionBatcher(ctx);
  }

  /** The jobs held now. */
  held(): HeldJob[] {
    return [...this.#held.values()];
  }

  findJob(jobId: string): HeldJob | undefined {
    return this.held().find((held) => held.job.jobId === jobId);
  }

  /** Starts the job in the background; its slot (reserved by the caller) is released when it ends. */
  start(job: TakenJob): void {
    const served = this.stages.get(`${job.queue}:${job.stage}`)!;
    const held: HeldJob = { job, served, controller: new AbortController(), startedAt: Date.now() };
    this.ctx.metrics.wait.observe({ queue: job.queue, stage: job.stage }, Math.max(0, held.startedAt - job.queuedAt) / 1_000);
    this.#held.set(heldKey(job), held);
    void this.#run(held).finally(() => {
      this.#held.delete(heldKey(job));
      this.ctx.slots.release();
    });
  }

  /** Fires a held job's signal; what happens to its record depends on the reason (see StopReason). */
  stop(held: HeldJob, reason: StopReason, message: string): void {
    if (!held.controller.signal.aborted) held.controller.abort(new JobStopped(reason, message));
  }

  async #run(held: HeldJob): Promise<void> {
    const { job, served, controller } = held;
    const logger = this.ctx.logger.child({ job_id: job.jobId, stage: job.stage, attempt: job.attempt });
    const timeoutMs = job.timeoutMs ?? served.pipeline.timeoutMs;
    const timer = timeoutMs ? setTimeout(() => this.stop(held, 'timeout', `the attempt ran longer than its timeout of ${timeoutMs} ms`), timeoutMs) : undefined;
    logger.debug({ lane: job.lane }, 'job active');

    let output: string;
    try {
      output = JSON.stringify((await this.#runProcessor(held, logger)) ?? null);
    } catch (error) {
      clearTimeout(timer);
      await this.#reportFailure(held, error, logger);
      return;
    }
    clearTimeout(timer);
    if (controller.signal.aborted) {
      await this.#reportFailure(held, controller.signal.reason, logger);
      return;
    }
    try {
      const outcome = await this.#completions.complete({ job, output, nextStage: served.next });
      this.#measure(held, outcome === 'completed' || outcome === 'advanced' ? 'completed' : 'refused');
      if (outcome === 'completed' || outcome === 'advanced') this.ctx.metrics.completed.inc({ queue: job.queue, stage: job.stage });
      const level = this.ctx.config.LOG_TRANSITIONS ? 'info' : 'debug';
      if (outcome === 'completed') logger[level]({ ms: Date.now() - held.startedAt }, 'job completed');
      else if (outcome === 'advanced') logger[level]({ ms: Date.now() - held.startedAt, next_stage: served.next }, 'stage completed');
      else logger.warn({ outcome }, 'completion refused: this attempt is no longer current (lease lost or job cancelled); its result is dropped');
    } catch (error) {
      logger.error({ err: error }, 'could not record the completion; the entry stays pending and runs again once its lease lapses');
    }
  }

  async #runProcessor(held: HeldJob, logger: Logger): Promise<unknown> {
    const { job, controller } = held;
    const processor = this.processors.get(job.stage);
    if (!processor) throw new NonRetryableError(`no processor is registered for stage "${job.stage}"`, 'NO_PROCESSOR');
    let lastProgress = 0;
    const payload = parseJson(job.payload, 'payload');
    const input = job.input === undefined ? undefined : parseJson(job.input, 'input');
    const helpers: ProcessorHelpers = {
      job: { id: job.jobId, queue: job.queue, stage: job.stage, attempt: job.attempt, maxAttempts: job.maxAttempts, createdAt: new Date(job.createdAt) },
      input,
      logger,
      signal: controller.signal,
      document: async () => {
        const bytes = await this.ctx.redis.hgetBuffer(this.ctx.keysOf(job.queue).job(job.jobId), 'doc');
        if (!bytes) throw new NonRetryableError('the job has no stored document (its record expired or was deleted)', 'NO_DOCUMENT');
        return bytes;
      },
      stageOutput: async (stage) => {
        if (!held.served.pipeline.stages.slice(0, held.served.pipeline.stages.indexOf(job.stage)).includes(stage)) {
          throw new NonRetryableError(`stage "${stage}" does not come before "${job.stage}" in queue "${job.queue}"`, 'INVALID_INPUT');
        }
        const stored = await this.ctx.redis.hget(this.ctx.keysOf(job.queue).job(job.jobId), `out:${stage}`);
        if (stored === null) throw new NonRetryableError(`the output of stage "${stage}" is gone (the record expired?)`, 'INVALID_INPUT');
        return parseJson(stored, `${stage} output`);
      },
      progress: async (percent, message = '') => {
        const clamped = Math.max(0, Math.min(100, Math.round(percent)));
        const now = Date.now();
        if (clamped < 100 && now - lastProgress < 100) return;
        lastProgress = now;
        await reportProgress(this.ctx.redis, this.ctx.keysOf(job.queue), job, clamped, message.slice(0, 200));
      },
    };
    // A processor that ignores its signal must not hold the attempt open: the abort wins the race.
    const aborted = new Promise<never>((_, reject) => {
      if (controller.signal.aborted) reject(controller.signal.reason);
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    aborted.catch(() => {});
    return Promise.race([processor(payload, helpers), aborted]);
  }

  #measure(held: HeldJob, outcome: 'completed' | 'failed' | 'refused'): void {
    this.ctx.metrics.duration.observe({ queue: held.job.queue, stage: held.job.stage, outcome }, (Date.now() - held.startedAt) / 1_000);
  }

  async #reportFailure(held: HeldJob, error: unknown, logger: Logger): Promise<void> {
    const { job, served } = held;
    if (error instanceof JobStopped && error.reason !== 'timeout') {
      logger.info({ reason: error.reason }, `attempt stopped: ${error.message}`);
      return;
    }
    const retryable = !(error instanceof NonRetryableError);
    const failure: AttemptError = {
      message: error instanceof Error ? error.message : String(error),
      name: error instanceof Error ? error.name : 'Error',
      retryable,
      stage: job.stage,
      attempt: job.attempt,
      at: Date.now(),
      worker: this.ctx.consumer,
    };
    if (error instanceof NonRetryableError) failure.code = error.code;
    else if (error instanceof JobStopped) failure.code = 'TIMEOUT';
    const backoff = job.backoff === undefined && served.pipeline.backoff ? served.pipeline.backoff : backoffOf(job.backoff);
    const delay = retryable ? retryDelay(backoff, job.attempt) : undefined;
    const { defaultMaxAttempts, retentionSeconds } = attemptPolicy(this.ctx, job.queue);
    try {
      const outcome = await failAttempt(this.ctx.redis, this.ctx.keysOf(job.queue), job, failure, delay, defaultMaxAttempts, retentionSeconds);
      const labels = { queue: job.queue, stage: job.stage };
      this.#measure(held, outcome === 'retrying' || outcome === 'dead' ? 'failed' : 'refused');
      if (outcome === 'retrying' || outcome === 'dead') this.ctx.metrics.failed.inc(labels);
      if (outcome === 'retrying') this.ctx.metrics.retried.inc(labels);
      if (outcome === 'dead') this.ctx.metrics.dead.inc(labels);
      if (outcome === 'retrying') logger.warn({ err: failure.message, retry_in_ms: delay }, 'job failed; retrying');
      else if (outcome === 'dead') logger.error({ err: failure.message, code: failure.code }, 'job dead-lettered');
      else logger.warn({ outcome }, 'failure not recorded: this attempt is no longer current');
    } catch (reportError) {
      logger.error({ err: reportError }, 'could not record the failure; the entry stays pending and runs again once its lease lapses');
    }
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new NonRetryableError(`the job's ${what} is not valid JSON`, 'INVALID_PAYLOAD');
  }
}
