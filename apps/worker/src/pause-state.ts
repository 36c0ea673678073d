import type { WorkerContext } from './worker-context.js';

/**
 * Which of this worker's stages are paused. The truth is in Redis (`<base>paused`, written by the
 * API), so a pause survives restarts; the worker re-reads it on start, on every maintenance tick,
 * and at once when a `pause-changed` control message arrives.
 */
export class PauseState {
  #paused = new Map<string, Set<string>>();
  #waiters: (() => void)[] = [];
  readonly #listeners: (() => void)[] = [];

  constructor(
    private readonly ctx: WorkerContext,
    private readonly queues: readonly string[],
  ) {}

  isPaused(queue: string, stage: string): boolean {
    const stages = this.#paused.get(queue);
    return stages !== undefined && (stages.has('*') || stages.has(stage));
  }

  /** Re-reads which stages of `queues` (by default, all of this worker's) are paused. */
  async refresh(queues: readonly string[] = this.queues): Promise<void> {
    let changed = false;
    for (const queue of queues) {
      const stages = new Set(await this.ctx.redis.hkeys(this.ctx.keysOf(queue).paused));
      const before = this.#paused.get(queue) ?? new Set<string>();
      if (stages.size !== before.size || [...stages].some((stage) => !before.has(stage))) {
        changed = true;
        this.ctx.logger.info({ queue, paused: [...stages].sort() }, stages.size === 0 ? 'queue resumed' : 'queue paused');
      }
      this.#paused.set(queue, stages);
    }
    if (changed) {
      for (const wake of this.#waiters.splice(0)) wake();
      for (const listener of this.#listeners) listener();
    }
  }

  /** Calls `listener` whenever the paused set changes. */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Resolves when the paused set changes, or after `timeoutMs`. */
  async whenChanged(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  wakeAll(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
