import { consumerClaimKey } from '../keys.js';
import type { RedisClient } from '../redis.js';

/**
 * Claims `consumer` for the process holding `token` for `ttlMs`, or renews its claim. Returns 0
 * when the process holds the name now, otherwise how many ms more another process's claim runs.
 * With `take` false a free name is not taken, and the answer is -1.
 */
export async function claimConsumer(redis: RedisClient, prefix: string, consumer: string, token: string, ttlMs: number, take = true): Promise<number> {
  return redis.claimConsumer(consumerClaimKey(prefix, consumer), token, ttlMs, take ? '1' : '0');
}

/** Gives up the process's claim on `consumer`, if it still holds it. */
export async function unclaimConsumer(redis: RedisClient, prefix: string, consumer: string, token: string): Promise<void> {
  await redis.unclaimConsumer(consumerClaimKey(prefix, consumer), token);
}
