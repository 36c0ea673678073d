import { enqueueJobs, TurnBatcher, type EnqueueLimits, type EnqueueOutcome, type NewJob, type QueueKeys, type RedisClient } from '@conveyor/shared';

/** What one coalesced job learns: stored, or refused because its stage was full. */
export type SingleOutcome = { ok: true } | Extract<EnqueueOutcome, { reason: 'backlog-full' }>;

/** Most jobs one coalesced call carries; more wait for the next call. */
const MAX_GROUP = 500;

interface Submission {
  keys: QueueKeys;
  stage: string;
  job: NewJob;
  limits: EnqueueLimits;
}

/** The shared call's outcome, and whether the job shared it with others. */
interface Together {
  outcome: SingleOutcome;
  shared: boolean;
}

/**
 * Stores the single jobs that requests submit in the same turn of the event loop with one enqueue
 * script call per queue, instead of one call each. Under load, many connections' requests arrive
 * in one turn: they share a round trip, a socket write and the script's fixed cost.
 *
 * Jobs with an idempotency key are not coalesced: a batch is all or none, and one reused key must
 * not refuse its neighbours. When a shared call is refused for a full stage, each of its jobs is
 * tried again on its own (in the order they came, on the one connection), so every request gets
 * the answer it would have had alone.
 */
export class EnqueueCoalescer {
  readonly #batcher: TurnBatcher<Submission, Together>;

  constructor(private readonly redis: RedisClient) {
    this.#batcher = new TurnBatcher((_, submissions) => this.#storeTogether(submissions), { items: MAX_GROUP });
  }

  /** `limits` are the same for every job of one queue (or partition) and stage. */
  async enqueue(keys: QueueKeys, stage: string, job: NewJob, limits: EnqueueLimits): Promise<SingleOutcome> {
    if (job.idempotencyKey !== undefined) throw new Error('jobs with an idempotency key are enqueued alone');
    const { outcome, shared } = await this.#batcher.add(`${keys.base}\n${stage}`, { keys, stage, job, limits });
    if (outcome.ok || !shared) return outcome;
    return this.#store([{ keys, stage, job, limits }]);
  }

  async #storeTogether(submissions: Submission[]): Promise<Together[]> {
    const outcome = await this.#store(submissions);
    return submissions.map(() => ({ outcome, shared: submissions.length > 1 }));
  }

  async #store(submissions: Submission[]): Promise<SingleOutcome> {
    const { keys, stage, limits } = submissions[0]!;
    const outcome = await enqueueJobs(this.redis, keys, stage, submissions.map(({ job }) => job), limits);
    if (outcome.ok) return { ok: true };
    if (outcome.reason !== 'backlog-full') throw new Error(`enqueue of jobs without idempotency keys answered ${outcome.reason}`);
    return outcome;
  }
}
