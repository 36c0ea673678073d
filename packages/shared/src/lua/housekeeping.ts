import type { QueueKeys } from '../keys.js';
import type { RedisClient } from '../redis.js';

export interface TrimmedHistory {
  /** Entries removed. */
  removed: number;
  /**
   * How far ahead of the clock the stream's entry IDs are, in ms, when more than a minute (an
   * explicit ID from another producer): such a stream keeps no history, only what is not yet done. 0 otherwise.
   */
  aheadMs: number;
  /**
   * A consumer group other than `ownGroup` (another program's) that alone keeps entries older
   * than the history window, and the oldest entry it holds back; undefined when none does.
   */
  heldBack?: { group: string; from: string };
}

/**
 * Trims a stage stream's acknowledged history older than `historyMs`; never an entry that is
 * pending or undelivered in any group. With `mode: 'age'` (the dead stream) it trims by age only.
 * `ownGroup`, the stream's group, is told apart from others' groups (see heldBack).
 */
export async function trimHistory(redis: RedisClient, stream: string, historyMs: number, mode: 'consumed' | 'age' = 'consumed', ownGroup = ''): Promise<TrimmedHistory> {
  const [removed, aheadMs, heldBy, heldFrom] = await redis.trim(stream, historyMs, mode, ownGroup);
  return { removed, aheadMs: Number(aheadMs), ...(heldBy ? { heldBack: { group: heldBy, from: heldFrom } } : {}) };
}

/**
 * Deletes a group's consumers that hold nothing and have been idle longer than `idleMs`, except
 * `self` and those whose worker still says it reads the queue (their word in `workers`, the
 * queue's QueueKeys.workers hash, holds): a live worker's consumer is idle on a lane without work.
 */
export async function pruneIdleConsumers(redis: RedisClient, stream: string, group: string, idleMs: number, self: string, workers: string): Promise<number> {
  return redis.pruneConsumers(stream, workers, group, idleMs, self);
}

/**
 * Makes sure `consumer` is in the group of `stream` (XGROUP CREATECONSUMER; nothing happens when
 * it is). A worker reads a lane only when it has entries, and Redis 7.0 does not write a consumer
 * that was never delivered anything to its AOF, so after a restart the groups of idle lanes had
 * lost their live workers' consumers. Answers whether it was created; false when the group is missing.
 */
export async function ensureConsumer(redis: RedisClient, stream: string, group: string, consumer: string): Promise<boolean> {
  try {
    return Number(await redis.xgroup('CREATECONSUMER', stream, group, consumer)) === 1;
  } catch (error) {
    if (/NOGROUP|no such key|requires the key to exist/i.test((error as Error).message)) return false;
    throw error;
  }
}

/**
 * Says that `consumer` reads the queue for the next `liveMs` (see QueueKeys.workers), holding
 * jobs with `leaseMs` (QueueKeys.leases). With `sweep`, the queue's stages, also drops the words
 * of workers not heard from in `keepMs`, and their leases once they hold no entry of those
 * stages. Returns how many words it dropped.
 */
export async function heartbeat(redis: RedisClient, keys: QueueKeys, consumer: string, liveMs: number, keepMs: number, sweep: false | readonly string[], leaseMs: number): Promise<number> {
  return redis.heartbeat(keys.workers, keys.leases, consumer, liveMs, keepMs, sweep ? 1 : 0, leaseMs, keys.base, ...(sweep || []));
}

/**
 * The consumers whose word (the workers hash, as HGETALL gives it) still holds at `nowMs`, on
 * Redis's clock: the workers alive and taking jobs.
 */
export function liveConsumers(words: Record<string, string>, nowMs: number): Set<string> {
  return new Set(Object.keys(words).filter((consumer) => Number(words[consumer]) > nowMs));
}

/**
 * Says that `consumer` reads the queue no more (it stops taking jobs): its word ends now. Its
 * lease stays named, for the jobs it still runs, released or could not release (see
 * lapsedEntries.lua), until a sweep finds it unnamed for `keepMs` and holding no entry.
 */
export async function leaveQueue(redis: RedisClient, keys: QueueKeys, consumer: string, keepMs: number, leaseMs: number): Promise<void> {
  await heartbeat(redis, keys, consumer, 0, keepMs, false, leaseMs);
}
