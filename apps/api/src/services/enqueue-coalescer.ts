import { enqueueJobs, type EnqueueLimits, type EnqueueOutcome, type NewJob, type QueueKeys } from '@conveyor/shared';
import type { Redis } from 'ioredis';

/** What one coalesced job learns: stored, or refused because its stage was full. */
export type SingleOutcome = { ok: true } | Extract<EnqueueOutcome, { reason: 'backlog-full' }>;

/** Most jobs one coalesced call carries; more wait for the next call. */
const MAX_GROUP = 500;

interface Waiting {
  job: NewJob;
  resolve: (outcome: SingleOutcome) => void;
  reject: (error: unknown) => void;
}

interface Group {
  keys: QueueKeys;
  stage: string;
  waiting: Waiting[];
}

/**
 * Stores the single jobs that requests submit in the same turn of the event loop with one enqueue
 * script call per queue, instead of one call each. Under load, many connections' requests arrive
 * in one turn: they share a round trip, a socket write and the script's fixed cost. A lone request
 * waits only for the end of its turn (setImmediate), not for a timer.
 *
 * Jobs with an idempotency key are not coalesced: a batch is all or none, and one reused key must
 * not refuse its neighbours. When a coalesced call is refused for a full stage, each job of it is
 * tried again on its own, so every request gets the answer it would have had alone.
 */
export class EnqueueCoalescer {
  readonly #groups = new Map<string, Group>();
  #scheduled = false;

  constructor(
    private readonly redis: Redis,
    private readonly limits: EnqueueLimits,
  ) {}

  enqueue(keys: QueueKeys, stage: string, job: NewJob): Promise<SingleOutcome> {
    if (job.idempotencyKey !== undefined) throw new Error('jobs with an idempotency key are enqueued alone');
    return new Promise((resolve, reject) => {
      const id = `${keys.base}\n${stage}`;
      let group = this.#groups.get(id);
      if (!group) this.#groups.set(id, (group = { keys, stage, waiting: [] }));
      group.waiting.push({ job, resolve, reject });
      if (group.waiting.length >= MAX_GROUP) {
        this.#groups.delete(id);
        void this.#store(group);
      } else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#flush);
      }
    });
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    const groups = [...this.#groups.values()];
    this.#groups.clear();
    for (const group of groups) void this.#store(group);
  };

  async #store({ keys, stage, waiting }: Group): Promise<void> {
    try {
      const outcome = await enqueueJobs(this.redis, keys, stage, waiting.map(({ job }) => job), this.limits);
      if (outcome.ok) {
        for (const { resolve } of waiting) resolve({ ok: true });
        return;
      }
      if (outcome.reason !== 'backlog-full') throw new Error(`enqueue of jobs without idempotency keys answered ${outcome.reason}`);
      if (waiting.length === 1) {
        waiting[0]!.resolve(outcome);
        return;
      }
      // The stage could not take all of them; it may take some. Each asks alone, in order.
      for (const one of waiting) await this.#store({ keys, stage, waiting: [one] });
    } catch (error) {
      for (const { reject } of waiting) reject(error);
    }
  }
}
