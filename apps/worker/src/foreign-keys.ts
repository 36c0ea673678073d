import { describeForeignKeys, findForeignKeys, findPipeline, foreignKeysRemedy, isWrongType, type Logger, type RedisClient } from '@conveyor/shared';

/** A queue's foreign keys are named at most once per this long: every read of it fails while they last. */
const REPORT_EVERY_MS = 60_000;

/**
 * Keys of a queue that another program filled with other kinds of values after the worker
 * started (it refuses to start on them, see checkKeyTypes). Every command on such a key fails
 * with WRONGTYPE, so the queue's jobs wait where it stands. The operator is told which keys, at
 * error level, rather than only Redis's WRONGTYPE, which names none.
 */
export class ForeignKeys {
  readonly #reportedAt = new Map<string, number>();

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {}

  /**
   * Whether `error` is a WRONGTYPE from a command on `queue`'s keys; if so its keys are looked
   * at and named (once per REPORT_EVERY_MS), and a caller that retries logs nothing more of it.
   */
  handled(error: unknown, queue: string): boolean {
    if (!isWrongType(error)) return false;
    const now = Date.now();
    if (now - (this.#reportedAt.get(queue) ?? -Infinity) < REPORT_EVERY_MS) return true;
    this.#reportedAt.set(queue, now);
    const pipeline = findPipeline(queue);
    void (pipeline ? findForeignKeys(this.redis, this.prefix, [pipeline]) : Promise.resolve([]))
      .catch(() => [])
      .then((found) => {
        this.logger.error(
          { queue, err: (error as Error).message },
          `Redis refuses commands on queue ${queue}'s keys: ${describeForeignKeys(found, error as Error)}. Another program writes under KEY_PREFIX "${this.prefix}"; the queue's jobs wait until ${foreignKeysRemedy(found)}`,
        );
      });
    return true;
  }
}
