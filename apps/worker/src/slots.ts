/**
 * The worker's concurrency limit: `size` jobs in flight at most. Readers reserve slots before
 * they take jobs, so two readers never take more than the worker can run. Slots wanted for a
 * takeover (see Maintenance.reclaim) are kept from the readers as they free up.
 */
export class Slots {
  #used = 0;
  /** Per taker (a queue's takeovers), the slots it wants kept. */
  readonly #wantedBy = new Map<string, number>();
  #waiters: (() => void)[] = [];

  constructor(readonly size: number) {}

  get used(): number {
    return this.#used;
  }

  /** Slots the readers may reserve: the free ones not wanted for a takeover. */
  get free(): number {
    return Math.max(0, this.size - this.#used - this.wanted);
  }

  /** Slots kept from the readers, as they free up, for takeovers: what the takers want, at most `size`. */
  get wanted(): number {
    let sum = 0;
    for (const wanted of this.#wantedBy.values()) sum += wanted;
    return Math.min(sum, this.size);
  }

  /** Keeps the next `count` slots that free up from the readers, for `taker`'s takeover; 0 gives them back. */
  want(count: number, taker: string): void {
    const before = this.wanted;
    if (count > 0) this.#wantedBy.set(taker, count);
    else this.#wantedBy.delete(taker);
    if (this.wanted < before) this.wakeAll();
  }

  /** Reserves free slots, the wanted ones too, for `taker`'s takeover of `limit` jobs at most; `taker` wants none after. */
  reserveForTakeover(limit: number, taker: string): number {
    const count = Math.max(0, Math.min(limit, this.size - this.#used));
    this.#used += count;
    this.want(0, taker);
    return count;
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
    // Nothing freed wakes nobody: a reader woken with no slot to take waits again behind the
    // others, and a take that used all it reserved would put every waiting reader behind it.
    if (count === 0) return;
    this.#used -= count;
    this.wakeAll();
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
