import { renewLeases, type TakenJob } from '@conveyor/shared';
import type { JobRunner } from './job-runner.js';
import { attemptPolicy, type WorkerContext } from './worker-context.js';

/**
 * Renews the leases of every held job three times per LEASE_MS, so a job that runs for
 * minutes is never taken over while its worker lives, draining included (each renewal names the
 * worker's lease again: see leaseNames.lua). A job found lost (taken over after a
 * lapsed lease, or cancelled while this worker missed the message) is stopped at once.
 */
export class LeaseKeeper {
  #timer: NodeJS.Timeout | undefined;
  #renewing = false;

  constructor(
    private readonly ctx: WorkerContext,
    private readonly runner: JobRunner,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.renewOnce(), Math.max(50, Math.floor(this.ctx.config.LEASE_MS / 3)));
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async renewOnce(): Promise<void> {
    // While Redis is unreachable a renewal waits; the next tick must not pile another on top.
    if (this.#renewing) return;
    this.#renewing = true;
    try {
      const lease = { leaseMs: this.ctx.config.LEASE_MS, keepMs: this.ctx.config.CONSUMER_RETENTION };
      const byQueue = new Map<string, TakenJob[]>();
      for (const { job } of this.runner.held()) byQueue.set(job.queue, [...(byQueue.get(job.queue) ?? []), job]);
      for (const [queue, jobs] of byQueue) {
        const lost = await renewLeases(this.ctx.redis, this.ctx.keysOf(queue), this.ctx.consumer, jobs, attemptPolicy(this.ctx, queue), lease);
        for (const job of lost) {
          // The very attempt renewed, not another held attempt of the same job: while the
          // renewal was out, this attempt may have been recorded and the job's next stage taken
          // here, with an attempt number of its own that can be the same.
          const held = this.runner.held().find((each) => each.job === job);
          if (held === undefined) continue;
          // The renewal went out beside the attempt's outcome, and most likely ran just after
          // it. That outcome's own reply says whether the attempt was still current, and logs
          // it if not; there is no processor left to stop.
          if (held.outcomeSent) {
            this.ctx.logger.debug({ job_id: job.jobId, attempt: job.attempt }, 'renewal found an attempt gone whose outcome was already sent; its reply decides');
            continue;
          }
          this.ctx.logger.warn({ job_id: job.jobId, attempt: job.attempt }, 'lease lost: another attempt is current, the job was cancelled, or its record was deleted; stopping this attempt');
          held.stop('lease-lost', 'the lease was lost: another attempt is current, the job was cancelled, or its record was deleted');
        }
      }
    } catch (error) {
      this.ctx.refusals.note(error);
      this.ctx.logger.warn({ err: (error as Error).message }, 'lease renewal failed; retrying at the next tick');
    } finally {
      this.#renewing = false;
    }
  }
}
