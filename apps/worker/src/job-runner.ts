import { failAttempt, outcomeUnknown, permissionRefusal, type AttemptError, type Logger, type TakenJob } from '@conveyor/shared';
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffOf, retryAfterOf, retryDelay } from './backoff.js';
import { CompletionBatcher, type TakeAlong } from './completion-batcher.js';
import { HeldJob, JobStopped } from './held-job.js';
import { JobHelpers, parseJson } from './job-helpers.js';
import { SMALL_LOAD_BYTES } from './load-budget.js';
import { NonRetryableError } from './processors/non-retryable-error.js';
import type { Processor } from './processors/processor.js';
import { attemptPolicy, noteDeadOut, recordLost, type ServedStage, type WorkerContext } from './worker-context.js';

/** Time between two tries to record an attempt's end while Redis refuses it for now (see untilRecorded). */
const RECORD_RETRY_MS = 250;

/**
 * Runs one attempt of one stage: the stage's processor, then the complete or fail script.
 * It never throws: whatever happens ends in a script call, or in the entry staying pending
 * for another worker to reclaim once the lease lapses.
 */
export class JobRunner {
  readonly #held = new Map<string, HeldJob>();
  #unrecorded = 0;
  readonly #noneHeld: (() => void)[] = [];
  readonly #completions: CompletionBatcher;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly stages: ReadonlyMap<string, ServedStage>,
    private readonly processors: ReadonlyMap<string, Processor>,
    /** Told of each retry this runner schedules, so the job is queued again on time. */
    private readonly onRetryScheduled: (queue: string, inMs: number) => void = () => {},
  ) {
    this.#completions = new CompletionBatcher(ctx);
  }

  /** Takes jobs along with completions from now on (see TakeAlong). */
  takeAlongWith(takeAlong: TakeAlong): void {
    this.#completions.takeAlong = takeAlong;
  }

  /** The jobs held now. */
  held(): HeldJob[] {
    return [...this.#held.values()];
  }

  /** Resolves once no job is held (running, or recording its outcome). */
  async whenNoneHeld(): Promise<void> {
    while (this.#held.size > 0) await new Promise<void>((resolve) => this.#noneHeld.push(resolve));
  }

  /** Held jobs whose outcome Redis has refused for now, and that wait to send it again. */
  get unrecorded(): number {
    return this.#unrecorded;
  }

  findJob(jobId: string): HeldJob | undefined {
    return this.held().find((held) => held.job.jobId === jobId);
  }

  /** Starts the job in the background; its slot (reserved by the caller) is released when it ends. */
  start(job: TakenJob): void {
    const held = new HeldJob(job, this.stages.get(`${job.queue}:${job.stage}`)!);
    this.ctx.metrics.wait.observe({ queue: job.queue, stage: job.stage }, Math.max(0, held.startedAt - job.queuedAt) / 1_000);
    this.#held.set(held.key, held);
    void this.#run(held).finally(() => {
      this.#held.delete(held.key);
      this.ctx.slots.release();
      if (this.#held.size === 0) for (const wake of this.#noneHeld.splice(0)) wake();
    });
  }

  async #run(held: HeldJob): Promise<void> {
    const { job } = held;
    // The job's logger is made when something is logged: most jobs log nothing at the default level.
    let jobLogger: Logger | undefined;
    const logger = () => (jobLogger ??= this.ctx.logger.child({ job_id: job.jobId, stage: job.stage, attempt: job.attempt }));
    if (this.ctx.logger.isLevelEnabled('debug')) logger().debug({ lane: job.lane }, 'job active');
    let payload: unknown;
    let giveBack = () => {};
    try {
      payload = parseJson(job.payload, 'payload');
      // A job waiting for its share of the load budget is held: its lease is renewed meanwhile,
      // and a stop (cancel, lease lost, shutdown) ends the wait. The wait is not part of the
      // attempt's timeout.
      const bytes = loadedBytes(held, payload);
      if (bytes >= SMALL_LOAD_BYTES) giveBack = await this.ctx.loadBudget.take(bytes, held.signal);
    } catch (error) {
      await this.#reportFailure(held, error, logger());
      return;
    }
    try {
      await this.#attempt(held, payload, logger);
    } finally {
      // Given back once the outcome is recorded: until then the output (a document's text) is held.
      giveBack();
    }
  }

  async #attempt(held: HeldJob, payload: unknown, logger: () => Logger): Promise<void> {
    const { job, served } = held;
    const transitions = this.ctx.config.LOG_TRANSITIONS ? 'info' : 'debug';
    const logTransitions = this.ctx.logger.isLevelEnabled(transitions);
    const timeoutMs = job.timeoutMs ?? served.pipeline.timeoutMs;
    const timer = timeoutMs ? setTimeout(() => held.stop('timeout', `the attempt ran longer than its timeout of ${timeoutMs} ms`), timeoutMs) : undefined;

    let output: string;
    try {
      output = JSON.stringify((await this.#runProcessor(held, payload, logger)) ?? null);
    } catch (error) {
      clearTimeout(timer);
      await this.#reportFailure(held, error, logger());
      return;
    }
    clearTimeout(timer);
    if (held.stopped) {
      await this.#reportFailure(held, held.stopped, logger());
      return;
    }
    try {
      const recorded = await this.#untilRecorded(held, 'completion', logger, () => this.#completions.complete({ job, output, nextStage: served.next }));
      if (!recorded) return;
      const { value: outcome, unanswered } = recorded;
      const done = outcome === 'completed' || outcome === 'advanced';
      this.#measure(held, done ? 'completed' : 'refused');
      if (done) this.ctx.metrics.completed.inc({ queue: job.queue, stage: job.stage });
      if (outcome === 'completed') {
        if (logTransitions) logger()[transitions]({ ms: Date.now() - held.startedAt }, 'job completed');
      } else if (outcome === 'advanced') {
        if (logTransitions) logger()[transitions]({ ms: Date.now() - held.startedAt, next_stage: served.next }, 'stage completed');
      } else if (unanswered) {
        logger().info({ outcome }, 'completion refused when sent again after a try Redis did not answer: that try was most likely recorded');
      } else if (outcome === 'no-record') {
        noteDeadOut(this.ctx, job.queue, job.stage, [recordLost(job.jobId)]);
      } else {
        logger().warn({ outcome }, 'completion refused: this attempt is no longer current (lease lost or job cancelled); its result is dropped');
      }
    } catch (error) {
      this.ctx.foreignKeys.handled(error, job.queue);
      logger().error(...unrecorded('completion', error, this.ctx.config.KEY_PREFIX));
    }
  }

  /**
   * Sends `record` (a completion or a failure) until Redis takes it. While Redis refuses it for
   * now (out of memory, a disk it cannot write, loading, read-only during a failover) or the
   * connection fails, the worker keeps the job and sends the same call again, 100 ms later and
   * then every 250 ms: what the attempt finished is not thrown away to be run again. A Redis that
   * refuses every write (MISCONF) refuses lease renewals too; other workers wait a lease after
   * such refusals before they take a job over (see RedisRefusals), and this call gets there
   * first. Sending again is safe: the scripts are fenced on the attempt, so a call that went
   * through unanswered is refused the second time, not applied twice (`unanswered` says a try may
   * have gone through so). Undefined when the job was stopped meanwhile (lease lost, cancelled,
   * shutdown); other errors are thrown.
   */
  async #untilRecorded<T>(held: HeldJob, what: string, logger: () => Logger, record: () => Promise<T>): Promise<{ value: T; unanswered: boolean } | undefined> {
    held.outcomeSent = true;
    let unanswered = false;
    const started = Date.now();
    let counted = false;
    try {
      for (let tries = 1; ; tries++) {
        try {
          const value = await record();
          if (tries > 1) logger().info({ tries, waited_ms: Date.now() - started }, `Redis took the ${what}`);
          return { value, unanswered };
        } catch (error) {
          if (!this.ctx.refusals.note(error)) throw error;
          unanswered ||= outcomeUnknown(error);
          if (!counted) {
            counted = true;
            this.#unrecorded += 1;
            logger().warn({ err: error.message }, `Redis did not take the ${what}; keeping the job and sending it again until Redis does`);
          }
          await sleep(tries === 1 ? 100 : RECORD_RETRY_MS);
          if (held.stopped) {
            logger().warn({ reason: held.stopped.reason, tries }, `the attempt was stopped before Redis took its ${what} (${held.stopped.message})`);
            return undefined;
          }
        }
      }
    } finally {
      if (counted) this.#unrecorded -= 1;
    }
  }

  async #runProcessor(held: HeldJob, payload: unknown, logger: () => Logger): Promise<unknown> {
    const { job } = held;
    const processor = this.processors.get(job.stage);
    if (!processor) throw new NonRetryableError(`no processor is registered for stage "${job.stage}"`, 'NO_PROCESSOR');
    const input = await held.race(this.#readInput(held));
    return held.race(processor(payload, new JobHelpers(this.ctx, held, logger, input)));
  }

  /** The previous stage's output, parsed; read from the record when the take left it out (see TakenJob.input). */
  async #readInput({ job, served }: HeldJob): Promise<unknown> {
    if (job.input !== undefined) return parseJson(job.input, 'input');
    if (job.inputBytes === 0) return undefined;
    const stored = await this.ctx.redis.hget(this.ctx.keysOf(job.queue).job(job.jobId), `out:${served.previous}`);
    if (stored === null) throw new NonRetryableError(`the output of stage "${served.previous}" is gone (the record expired?)`, 'INVALID_INPUT');
    return parseJson(stored, 'input');
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
    else failure.code = ownCode(error) ?? 'PROCESSOR_ERROR';
    const backoff = backoffOf(job.backoff);
    const delay = retryable ? retryDelay(backoff, job.attempt, Math.random, retryAfterOf(error)) : undefined;
    const { defaultMaxAttempts, retentionSeconds } = attemptPolicy(this.ctx, job.queue);
    try {
      const recorded = await this.#untilRecorded(held, 'failure', () => logger, () =>
        failAttempt(this.ctx.redis, this.ctx.keysOf(job.queue), job, failure, delay, defaultMaxAttempts, retentionSeconds, this.ctx.config.LEASE_MS),
      );
      if (!recorded) return;
      const outcome = recorded.value;
      const labels = { queue: job.queue, stage: job.stage };
      this.#measure(held, outcome === 'retrying' || outcome === 'dead' ? 'failed' : 'refused');
      if (outcome === 'retrying' || outcome === 'dead') this.ctx.metrics.failed.inc(labels);
      if (outcome === 'retrying') this.ctx.metrics.retried.inc(labels);
      if (outcome === 'retrying' && delay !== undefined) this.onRetryScheduled(job.queue, delay);
      if (outcome === 'dead') this.ctx.metrics.dead.inc(labels);
      if (outcome === 'retrying') logger.warn({ err: failure.message, retry_in_ms: delay }, 'job failed; retrying');
      else if (outcome === 'dead') logger.error({ err: failure.message, code: failure.code }, 'job dead-lettered');
      else if (recorded.unanswered) logger.info({ outcome }, 'failure refused when sent again after a try Redis did not answer: that try was most likely recorded');
      else if (outcome === 'no-record') noteDeadOut(this.ctx, job.queue, job.stage, [recordLost(job.jobId)]);
      else logger.warn({ outcome }, 'failure not recorded: this attempt is no longer current');
    } catch (reportError) {
      this.ctx.foreignKeys.handled(reportError, job.queue);
      logger.error(...unrecorded('failure', reportError, this.ctx.config.KEY_PREFIX));
    }
  }
}

/**
 * About how many bytes of stored data an attempt loads, for the load budget: the previous stage's
 * output, or, in a documents pipeline, the document's size (in its payload) if larger. Every stage
 * of such a pipeline works on the document or on its text, which later stages read from the
 * extract stage's output whatever their input holds.
 */
function loadedBytes({ job, served }: HeldJob, payload: unknown): number {
  if (served.pipeline.input !== 'document') return job.inputBytes;
  const size = (payload as { size?: unknown } | null)?.size;
  return Math.max(job.inputBytes, typeof size === 'number' && Number.isFinite(size) ? size : 0);
}

/** The string `code` an error carries (a Node system error's `ECONNRESET`, a processor's own), if a short one. */
function ownCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length > 0 && code.length <= 100 ? code : undefined;
}

/**
 * The log line of an outcome Redis did not take. Redis refusing the worker's user a command (an
 * ACL changed while the worker ran) is a setting to fix: said with what the user needs, without a
 * stack trace. A script refused halfway keeps what it wrote before (Lua does not roll back): the
 * record may say the outcome while the entry stays pending; once the command is granted, the
 * entry is taken over when its lease lapses, and acked without running again if its record shows
 * the stage done.
 */
function unrecorded(what: 'completion' | 'failure', error: unknown, prefix: string): [object, string] {
  const refusal = permissionRefusal(error, prefix);
  if (refusal) return [{ code: refusal.code, err: refusal.message }, `could not record the ${what}: Redis refused a command to this worker's user; the entry stays pending until the command is granted, then is taken over once its lease lapses`];
  return [{ err: error }, `could not record the ${what}; the entry stays pending and runs again once its lease lapses`];
}
