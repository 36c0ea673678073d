import { promoteDueJobs, QueueKeys } from '@conveyor/shared';
import type { WorkerContext } from './worker-context.js';

/**
 * Housekeeping every worker does for the queues it serves, so no single scheduler process is
 * needed: any worker may run any of it at any time, because each step is one atomic script.
 */
export class Maintenance {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  readonly #queues: QueueKeys[];

  constructor(
    private readonly ctx: WorkerContext,
    queues: readonly string[],
    private readonly intervalMs = 1_000,
  ) {
    this.#queues = queues.map((queue) => new QueueKeys(ctx.config.KEY_PREFIX, queue));
  }

  start(): void {
    const tick = () => {
      this.#running = this.runOnce()
        .catch((error: Error) => this.ctx.logger.warn({ err: error.message }, 'maintenance step failed; trying again shortly'))
        .finally(() => {
          // Jitter keeps a fleet that started together from ticking together.
          if (this.#timer !== undefined) this.#timer = setTimeout(tick, this.intervalMs * (0.75 + Math.random() / 2));
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  async runOnce(): Promise<void> {
    for (const keys of this.#queues) {
      await promoteDueJobs(this.ctx.redis, keys);
    }
  }
}
