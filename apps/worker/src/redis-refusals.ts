import { isConnectionError, isRefusedForNow } from '@conveyor/shared';

/**
 * When this worker last saw Redis refuse a write for now (MISCONF, OOM, READONLY...), fail to
 * answer, or come back after a lost connection. While Redis refuses or is away (unreachable, or
 * restarted and still loading its data, when it answers LOADING and reports no error) no lease is
 * renewed, so a lease that lapsed then says nothing about its holder. The worker takes no job
 * over until one lease has passed since the last such moment: live holders renew, or record what
 * they finished, in that time, and only dead ones' jobs run again.
 */
export class RedisRefusals {
  #lastAt = Number.NEGATIVE_INFINITY;

  /** Notes `error` if it is such a failure; says whether it was. */
  note(error: unknown): error is Error {
    if (!isRefusedForNow(error) && !isConnectionError(error)) return false;
    this.#lastAt = Date.now();
    return true;
  }

  /** Notes that a connection lost earlier answers again: the wait starts now, not at its last error. */
  back(): void {
    this.#lastAt = Date.now();
  }

  /** True while the last such moment was less than `ms` ago. */
  seenWithin(ms: number): boolean {
    return Date.now() - this.#lastAt < ms;
  }
}
