import { completeStages, type CompleteOutcome, type Completion, type TakeRequest, type TakeResult } from '@conveyor/shared';
import type { WorkerContext } from './worker-context.js';

/** Jobs taken in the same script call as a queue's completions, for the slots those free. */
export interface TakeAlong {
  /** What to take with completions of `queue` that free `count` slots; undefined for nothing. */
  request(queue: string, count: number): TakeRequest | undefined;
  /** Starts what was taken, in the slots the completions hand over. */
  took(queue: string, result: TakeResult): void;
}

/** Most completions in one script call, and most output bytes, before a batch goes at once. */
const MAX_BATCH = 128;
const MAX_BATCH_BYTES = 1024 * 1024;

interface Batch {
  items: Completion[];
  bytes: number;
  waiters: { resolve: (outcome: CompleteOutcome) => void; reject: (error: unknown) => void }[];
}

/**
 * Records the completions the worker's jobs make in one turn of the event loop with one script
 * call per queue, instead of one each: Redis runs the fencing check and the writes job by job
 * as before, and shares the call, the clock read, the acks, the index update and the counter.
 * Each caller still gets its own job's outcome, and a refused (stale) attempt refuses only itself.
 * With a TakeAlong, the same call takes jobs for the slots the completions free: a busy worker
 * finishes and takes in one round trip.
 */
export class CompletionBatcher {
  readonly #pending = new Map<string, Batch>();
  #scheduled = false;
  takeAlong: TakeAlong | undefined;

  constructor(private readonly ctx: WorkerContext) {}

  complete(completion: Completion): Promise<CompleteOutcome> {
    return new Promise((resolve, reject) => {
      const queue = completion.job.queue;
      let batch = this.#pending.get(queue);
      if (!batch) this.#pending.set(queue, (batch = { items: [], bytes: 0, waiters: [] }));
      batch.items.push(completion);
      batch.bytes += completion.output.length;
      batch.waiters.push({ resolve, reject });
      if (batch.items.length >= MAX_BATCH || batch.bytes >= MAX_BATCH_BYTES) {
        this.#pending.delete(queue);
        void this.#send(queue, batch);
      } else if (!this.#scheduled) {
        // After the microtasks of this turn: every job that finished in it joins the batch.
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#scheduled = false;
    for (const [queue, batch] of this.#pending) {
      this.#pending.delete(queue);
      void this.#send(queue, batch);
    }
  }

  async #send(queue: string, batch: Batch): Promise<void> {
    const take = this.takeAlong?.request(queue, batch.items.length);
    try {
      const { outcomes, taken } = await completeStages(this.ctx.redis, this.ctx.keysOf(queue), batch.items, this.ctx.retentionSeconds, take);
      // Started before the completed jobs let go of their slots, which the new ones take over.
      if (take) this.takeAlong!.took(queue, taken);
      outcomes.forEach((outcome, i) => batch.waiters[i]!.resolve(outcome));
    } catch (error) {
      for (const waiter of batch.waiters) waiter.reject(error);
    }
  }
}
