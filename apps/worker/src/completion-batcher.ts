import { completeStages, TurnBatcher, type CompleteOutcome, type Completion, type TakeRequest, type TakeResult } from '@conveyor/shared';
import { noteRepeatedCall, type WorkerContext } from './worker-context.js';

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

/**
 * Records the completions the worker's jobs make in one turn of the event loop with one script
 * call per queue, instead of one each: Redis runs the fencing check and the writes job by job
 * as before, and shares the call, the clock read, the acks, the index update and the counter.
 * Each caller still gets its own job's outcome, and a refused (stale) attempt refuses only itself.
 * With a TakeAlong, the same call takes jobs for the slots the completions free: a busy worker
 * finishes and takes in one round trip.
 */
export class CompletionBatcher {
  readonly #batcher: TurnBatcher<Completion, CompleteOutcome>;
  takeAlong: TakeAlong | undefined;

  constructor(private readonly ctx: WorkerContext) {
    this.#batcher = new TurnBatcher((queue, completions) => this.#send(queue, completions), {
      items: MAX_BATCH,
      size: { of: (completion) => completion.output.length, max: MAX_BATCH_BYTES },
    });
  }

  complete(completion: Completion): Promise<CompleteOutcome> {
    return this.#batcher.add(completion.job.queue, completion);
  }

  async #send(queue: string, completions: Completion[]): Promise<CompleteOutcome[]> {
    const take = this.takeAlong?.request(queue, completions.length);
    const { outcomes, taken, repeated } = await completeStages(this.ctx.redis, this.ctx.keysOf(queue), completions, this.ctx.retentionSeconds, take, this.ctx.config.LEASE_MS);
    if (repeated) noteRepeatedCall(this.ctx, 'complete', queue, taken.jobs.length);
    // Started before the completed jobs let go of their slots, which the new ones take over.
    if (take) this.takeAlong!.took(queue, taken);
    return outcomes;
  }
}
