/** Most items one call carries, and optionally most total size, before a batch goes at once. */
export interface TurnBatchLimits<Item> {
  items: number;
  size?: { of: (item: Item) => number; max: number };
}

interface Batch<Item, Outcome> {
  items: Item[];
  size: number;
  waiters: { resolve: (outcome: Outcome) => void; reject: (error: unknown) => void }[];
}

/**
 * Gathers the items callers add in one turn of the event loop into one call per group, instead
 * of one call each: the batch goes after the turn's microtasks (setImmediate), so a lone item
 * waits for no timer, or at once when it reaches its limits. Each caller gets its own item's
 * outcome; a call that fails rejects every item it carried.
 */
export class TurnBatcher<Item, Outcome> {
  readonly #pending = new Map<string, Batch<Item, Outcome>>();
  #scheduled = false;

  constructor(
    /** Makes the call for one group's items; answers one outcome per item, in order. */
    private readonly send: (group: string, items: Item[]) => Promise<Outcome[]>,
    private readonly limits: TurnBatchLimits<Item>,
  ) {}

  add(group: string, item: Item): Promise<Outcome> {
    return new Promise((resolve, reject) => {
      let batch = this.#pending.get(group);
      if (!batch) this.#pending.set(group, (batch = { items: [], size: 0, waiters: [] }));
      batch.items.push(item);
      batch.waiters.push({ resolve, reject });
      const { size } = this.limits;
      if (size) batch.size += size.of(item);
      if (batch.items.length >= this.limits.items || (size && batch.size >= size.max)) {
        this.#pending.delete(group);
        void this.#sendBatch(group, batch);
      } else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#flush);
      }
    });
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    for (const [group, batch] of this.#pending) {
      this.#pending.delete(group);
      void this.#sendBatch(group, batch);
    }
  };

  async #sendBatch(group: string, { items, waiters }: Batch<Item, Outcome>): Promise<void> {
    try {
      const outcomes = await this.send(group, items);
      outcomes.forEach((outcome, i) => waiters[i]!.resolve(outcome));
    } catch (error) {
      for (const waiter of waiters) waiter.reject(error);
    }
  }
}
