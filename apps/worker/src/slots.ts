/**
 * The worker's concurrency limit: `size` jobs in flight at most. Readers reserve slots before
 * they take jobs, so two readers never take more than the worker can run.
 */
export class Slots {
  #used = 0;
  #waiters: (() => void)[] = [];

  constructor(readonly size: number) {}

  get used(): number {
    return this.#used;
  }

  get free(): number {
    return this.size - this.#used;
  }

  /** Reserves every free slot (at most `limit`) and returns how many. */
  reserve(limit = Number.POSITIVE_INFINITY): number {
    const count = Math.min(this.free, limit);
    this.#used += count;
    return count;
  }

  /**
   * Takes over `count` slots that jobs are about to release, for jobs taken in the same round
   * trip that recorded theirs: briefly more than `size` are counted, never more run.
   */
  transfer(count: number): void {
    this.#used += count;
  }

  release(count = 1): void {
    this.#used -= count;
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Resolves once a slot is free (at once if one is), or when `wakeAll` is called. */
  async whenFree(): Promise<void> {
    if (this.free > 0) return;
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  /** Resolves once nothing is in flight. */
  async whenIdle(): Promise<void> {
    while (this.#used > 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  wakeAll(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
