import { reportProgress, type Logger } from '@conveyor/shared';
import type { HeldJob } from './held-job.js';
import { NonRetryableError } from './processors/non-retryable-error.js';
import type { JobInfo, ProcessorHelpers } from './processors/processor.js';
import type { WorkerContext } from './worker-context.js';

/**
 * The helpers one attempt's processor gets. Everything is made when first asked for: most
 * processors use none of it, and a closure per helper per job was a measurable share of a short
 * job's cost to the worker. The functions are bound to this attempt, so a processor may take
 * them apart (`async (payload, { document, signal }) => ...`).
 */
export class JobHelpers implements ProcessorHelpers {
  #job: JobInfo | undefined;
  #lastProgress = 0;
  #document: (() => Promise<Buffer>) | undefined;
  #stageOutput: ((stage: string) => Promise<unknown>) | undefined;
  #progress: ((percent: number, message?: string) => Promise<void>) | undefined;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly held: HeldJob,
    private readonly jobLogger: () => Logger,
    readonly input: unknown,
  ) {}

  get job(): JobInfo {
    const { job } = this.held;
    return (this.#job ??= { id: job.jobId, queue: job.queue, stage: job.stage, attempt: job.attempt, maxAttempts: job.maxAttempts, createdAt: new Date(job.createdAt) });
  }

  get logger(): Logger {
    return this.jobLogger();
  }

  get signal(): AbortSignal {
    return this.held.signal;
  }

  get document(): () => Promise<Buffer> {
    return (this.#document ??= () => this.#readDocument());
  }

  get stageOutput(): (stage: string) => Promise<unknown> {
    return (this.#stageOutput ??= (stage) => this.#readStageOutput(stage));
  }

  get progress(): (percent: number, message?: string) => Promise<void> {
    return (this.#progress ??= (percent, message) => this.#reportProgress(percent, message));
  }

  async #readDocument(): Promise<Buffer> {
    const { job } = this.held;
    const bytes = await this.ctx.redis.hgetBuffer(this.ctx.keysOf(job.queue).job(job.jobId), 'doc');
    if (!bytes) throw new NonRetryableError('the job has no stored document: documents come in through POST /documents (an entry added to the stream has none), or its record expired or was deleted', 'NO_DOCUMENT');
    return bytes;
  }

  async #readStageOutput(stage: string): Promise<unknown> {
    const { job, served } = this.held;
    if (!served.pipeline.stages.slice(0, served.pipeline.stages.indexOf(job.stage)).includes(stage)) {
      throw new NonRetryableError(`stage "${stage}" does not come before "${job.stage}" in queue "${job.queue}"`, 'INVALID_INPUT');
    }
    const stored = await this.ctx.redis.hget(this.ctx.keysOf(job.queue).job(job.jobId), `out:${stage}`);
    if (stored === null) throw new NonRetryableError(`the output of stage "${stage}" is gone (the record expired?)`, 'INVALID_INPUT');
    return parseJson(stored, `${stage} output`);
  }

  async #reportProgress(percent: number, message = ''): Promise<void> {
    const clamped = Math.max(0, Math.min(100, Math.round(percent)));
    const now = Date.now();
    if (clamped < 100 && now - this.#lastProgress < 100) return;
    this.#lastProgress = now;
    const { job } = this.held;
    try {
      await reportProgress(this.ctx.redis, this.ctx.keysOf(job.queue), job, clamped, message.slice(0, 200));
    } catch (error) {
      // A report, not the work: Redis refusing it for now (full, failing over) must not fail the attempt.
      if (!this.ctx.refusals.note(error)) throw error;
      this.jobLogger().warn({ err: error.message, percent: clamped }, 'progress not recorded: Redis did not take it; the job goes on');
    }
  }
}

/** `text` parsed; a job whose stored JSON does not parse cannot succeed on any attempt. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new NonRetryableError(`the job's ${what} is not valid JSON`, 'INVALID_PAYLOAD');
  }
}
