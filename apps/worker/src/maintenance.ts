import { LANES, groupName, promoteDueJobs, pruneIdleConsumers, reclaimStale, trimHistory, type TakenJob } from '@conveyor/shared';
import type { PauseState } from './pause-state.js';
import { stageRequest, type ServedStage, type WorkerContext } from './worker-context.js';

/**
 * Housekeeping every worker does for the stages it serves, so no single scheduler process is
 * needed: any worker may run any step at any time, because each step is one atomic script.
 *   - re-read which stages are paused (every tick)
 *   - promote delayed jobs whose time has come (every tick)
 *   - take over jobs whose lease lapsed, when this worker has free slots (every tick; not for a
 *     lease after Redis refused writes or failed to answer, see RedisRefusals)
 *   - trim acknowledged stream history and prune consumers that left (every TRIM_INTERVAL)
 */
export class Maintenance {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #lastTrim = 0;
  readonly #queues: string[];

  constructor(
    private readonly ctx: WorkerContext,
    private readonly stages: readonly ServedStage[],
    private readonly startJob: (job: TakenJob) => void,
    private readonly pauses: PauseState,
  ) {
    this.#queues = [...new Set(stages.map((served) => served.pipeline.name))];
  }

  start(): void {
    const tick = () => {
      this.#running = this.runOnce()
        .catch((error: Error) => {
          this.ctx.refusals.note(error);
          this.ctx.logger.warn({ err: error.message }, 'maintenance step failed; trying again shortly');
        })
        .finally(() => {
          // Jitter keeps a fleet that started together from ticking together.
          if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.ctx.config.MAINTENANCE_INTERVAL * (0.75 + Math.random() / 2));
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  /** Stops ticking; resolves when the step under way (which may be waiting on Redis) ends. */
  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  async runOnce(): Promise<void> {
    await this.pauses.refresh();
    for (const queue of this.#queues) {
      const promoted = await promoteDueJobs(this.ctx.redis, this.ctx.keysOf(queue));
      if (promoted.moved > 0) this.ctx.logger.debug({ queue, moved: promoted.moved }, 'promoted delayed jobs');
    }
    await this.reclaim();
    if (Date.now() - this.#lastTrim >= this.ctx.config.TRIM_INTERVAL) {
      this.#lastTrim = Date.now();
      await this.trim();
    }
  }

  /** Takes over jobs whose lease lapsed, up to this worker's free slots. */
  async reclaim(): Promise<void> {
    if (this.ctx.refusals.seenWithin(this.ctx.config.LEASE_MS)) return;
    for (const served of this.stages) {
      if (!this.ctx.isTaking()) return;
      if (this.pauses.isPaused(served.pipeline.name, served.stage)) continue;
      const reserved = this.ctx.slots.reserve();
      if (reserved === 0) return;
      let taken = 0;
      try {
        const keys = this.ctx.keysOf(served.pipeline.name);
        const result = await reclaimStale(this.ctx.redis, keys, { ...stageRequest(this.ctx, served), count: reserved, lanes: LANES }, this.ctx.config.LEASE_MS);
        taken = result.jobs.length;
        for (const job of result.jobs) {
          this.ctx.logger.warn({ job_id: job.jobId, stage: job.stage, attempt: job.attempt }, 'took over a job whose lease lapsed');
          this.ctx.metrics.reclaimed.inc({ queue: job.queue, stage: job.stage });
          this.startJob(job);
        }
        if (result.lost > 0) this.ctx.logger.warn({ stage: served.stage, lost: result.lost }, 'entries deleted from the stream while held; their attempts failed');
      } finally {
        this.ctx.slots.release(reserved - taken);
      }
    }
  }

  async trim(): Promise<void> {
    const { redis, config } = this.ctx;
    for (const served of this.stages) {
      const keys = this.ctx.keysOf(served.pipeline.name);
      for (const lane of LANES) {
        const stream = keys.stream(served.stage, lane);
        const trimmed = await trimHistory(redis, stream, config.STREAM_HISTORY);
        const pruned = await pruneIdleConsumers(redis, stream, groupName(served.stage), config.CONSUMER_RETENTION, this.ctx.consumer);
        if (trimmed > 0 || pruned > 0) this.ctx.logger.debug({ stream, trimmed, pruned_consumers: pruned }, 'trimmed history');
      }
    }
    for (const queue of this.#queues) await trimHistory(redis, this.ctx.keysOf(queue).dead, config.JOB_RETENTION, 'age');
  }
}
