import type { QueueKeys } from '../keys.js';
import type { RedisClient } from '../redis.js';

/**
 * Trims a stage stream's acknowledged history older than `historyMs`; never an entry that is
 * pending or undelivered in any group. With `mode: 'age'` (the dead stream) it trims by age only.
 */
export async function trimHistory(redis: RedisClient, stream: string, historyMs: number, mode: 'consumed' | 'age' = 'consumed'): Promise<number> {
  return redis.trim(stream, historyMs, mode);
}

/** Deletes a group's consumers that hold nothing and have been idle longer than `idleMs`. */
export async function pruneIdleConsumers(redis: RedisClient, stream: string, group: string, idleMs: number, self: string): Promise<number> {
  return redis.pruneConsumers(stream, group, idleMs, self);
}

/**
 * Says that `consumer` reads the queue for the next `liveMs` (see QueueKeys.workers); with
 * `sweep`, drops the fields of workers not heard from in `keepMs`. Returns how many it dropped.
 */
export async function heartbeat(redis: RedisClient, keys: QueueKeys, consumer: string, liveMs: number, keepMs: number, sweep: boolean): Promise<number> {
  return redis.heartbeat(keys.workers, consumer, liveMs, keepMs, sweep ? 1 : 0);
}

/**
 * The consumers whose word (the workers hash, as HGETALL gives it) still holds at `nowMs`, on
 * Redis's clock: the workers alive and taking jobs.
 */
export function liveConsumers(words: Record<string, string>, nowMs: number): Set<string> {
  return new Set(Object.keys(words).filter((consumer) => Number(words[consumer]) > nowMs));
}

/** Says that `consumer` reads the queue no more (it stops taking jobs). */
export async function leaveQueue(redis: RedisClient, keys: QueueKeys, consumer: string): Promise<void> {
  await redis.hdel(keys.workers, consumer);
}
