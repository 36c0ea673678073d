import { isConnectionError, isRefusedForNow } from '@conveyor/shared';

/**
 * When this worker last saw Redis refuse a write for now (MISCONF, OOM, READONLY...) or fail to
 * answer. While that lasts no lease is renewed (a Redis that refuses every write refuses renewals,
 * an unreachable one gets none), so a lease that lapsed then says nothing about its holder. The
 * worker takes no job over until one lease has passed since it last saw such a failure: live
 * holders renew, or record what they finished, in that time, and only dead ones' jobs run again.
 */
export class RedisRefusals {
  #lastAt = Number.NEGATIVE_INFINITY;

  /** Notes `error` if it is such a failure; says whether it was. */
  note(error: unknown): error is Error {
    if (!isRefusedForNow(error) && !isConnectionError(error)) return false;
    this.#lastAt = Date.now();
    return true;
  }

  /** True while the last such failure was seen less than `ms` ago. */
  seenWithin(ms: number): boolean {
    return Date.now() - this.#lastAt < ms;
  }
}
