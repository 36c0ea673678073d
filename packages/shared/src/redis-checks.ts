import type { Redis } from 'ioredis';

export class UnsafeRedisError extends Error {
  readonly code = 'REDIS_UNSAFE_EVICTION';
}

/**
 * Any maxmemory-policy but `noeviction` lets Redis delete streams and job records when memory
 * runs short: jobs would vanish. Warn loudly; refuse to run in production. Managed services that
 * hide CONFIG get a warning that the policy could not be checked.
 */
export async function checkEvictionPolicy(redis: Redis, logger: { warn(message: string): void }, production: boolean): Promise<void> {
  let policy: string | undefined;
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = reply[1];
  } catch {
    logger.warn('could not read maxmemory-policy (CONFIG is disabled here); make sure it is noeviction, or Redis may delete jobs under memory pressure');
    return;
  }
  if (policy === undefined || policy === 'noeviction') return;
  const message = `Redis maxmemory-policy is "${policy}": under memory pressure Redis will delete streams and job records, losing jobs. Set it to noeviction (CONFIG SET maxmemory-policy noeviction, or in redis.conf).`;
  if (production) throw new UnsafeRedisError(message);
  logger.warn(message);
}
