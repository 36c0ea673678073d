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
