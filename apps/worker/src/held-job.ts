import type { TakenJob } from '@conveyor/shared';
import type { ServedStage } from './worker-context.js';

/**
 * Why a held job was stopped. A timeout is a failed attempt. The others end the attempt
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

/**
 * A job this worker runs right now, and the means to stop it. Its AbortSignal is made only when
 * the processor asks for it: most jobs finish without one, and an AbortController with its
 * listener is a large share of what a short job costs the worker.
 */
export class HeldJob {
  readonly startedAt = Date.now();
  /** The job's place in the runner's map: queue, stage, lane and entry. */
  readonly key: string;
  /**
   * Set when the attempt's outcome (its completion or failure) is first sent to Redis. From then
   * on that call's reply says whether the attempt was still current, and the processor is done:
   * a renewal that finds the attempt gone has most likely run just after the outcome was recorded.
   */
  outcomeSent = false;
  #controller: AbortController | undefined;
  #stopped: JobStopped | undefined;
  #interrupt: ((stopped: JobStopped) => void) | undefined;

  constructor(
    readonly job: TakenJob,
    readonly served: ServedStage,
  ) {
    this.key = `${job.queue}|${job.stage}|${job.lane}|${job.entryId}`;
  }

  /** Fires when the job is stopped; aborted at once if it already was. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#stopped) this.#controller.abort(this.#stopped);
    }
    return this.#controller.signal;
  }

  /** Why the job was stopped, once it was. */
  get stopped(): JobStopped | undefined {
    return this.#stopped;
  }

  stop(reason: StopReason, message: string): void {
    if (this.#stopped) return;
    this.#stopped = new JobStopped(reason, message);
    this.#controller?.abort(this.#stopped);
    this.#interrupt?.(this.#stopped);
  }

  /**
   * Settles as `work` does, or rejects as soon as the job is stopped: a processor that ignores
   * its signal does not hold the attempt open.
   */
  race<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#stopped) reject(this.#stopped);
      this.#interrupt = reject;
      work.then(resolve, reject);
    });
  }
}
