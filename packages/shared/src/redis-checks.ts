import type { Redis } from 'ioredis';

/** Redis answers but cannot be used as configured: the process stops rather than run wrongly. */
export class UnusableRedisError extends Error {
  constructor(
    readonly code: 'REDIS_UNSAFE_EVICTION' | 'REDIS_NO_SUCH_DATABASE' | 'REDIS_CLUSTER_MODE',
    message: string,
  ) {
    super(message);
    this.name = 'UnusableRedisError';
  }
}

/**
 * ioredis selects the URL's database (`redis://host:6379/3`) on every connect, but when Redis
 * refuses it (a number past its `databases` setting, or Redis Cluster, which has database 0 only)
 * it reports the error and carries on in database 0: jobs would be written where no process of
 * the intended deployment looks. Select it again and stop if Redis refuses.
 */
async function checkDatabase(redis: Redis): Promise<void> {
  const db = redis.options.db ?? 0;
  if (db === 0) return;
  try {
    await redis.select(db);
  } catch (error) {
    throw new UnusableRedisError(
      'REDIS_NO_SUCH_DATABASE',
      `REDIS_URL selects database ${db}, which Redis refuses (${(error as Error).message}). Use a database this Redis has: 0 to one less than its "databases" setting (16 by default), and only 0 on Redis Cluster.`,
    );
  }
}

/**
 * Conveyor talks to one Redis endpoint. A node of a Redis Cluster in cluster mode answers MOVED
 * for keys it does not own (or CLUSTERDOWN), so requests would fail one by one; stop at start
 * instead, saying what to use. (Its keys carry hash tags, so a cluster behind a proxy endpoint
 * that presents one Redis works.) Without INFO permission there is nothing to check.
 */
async function checkNotClusterMode(redis: Redis): Promise<void> {
  const info = await redis.info('cluster').catch(() => '');
  if (!/^cluster_enabled:1\b/m.test(info)) return;
  throw new UnusableRedisError(
    'REDIS_CLUSTER_MODE',
    'REDIS_URL leads to a Redis Cluster node in cluster mode, which Conveyor does not support: it needs one endpoint that holds every key, such as a non-clustered Redis, a primary with replicas behind one address, or a cluster behind a proxy that presents one Redis (for example an "enterprise" or proxy clustering policy).',
  );
}

/**
 * Any maxmemory-policy but `noeviction` lets Redis delete streams and job records when memory
 * runs short: jobs would vanish. Warn loudly; refuse to run in production. Managed services that
 * hide CONFIG get a warning that the policy could not be checked.
 */
async function checkEvictionPolicy(redis: Redis, logger: { warn(message: string): void }, production: boolean): Promise<void> {
  let policy: string | undefined;
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = reply[1];
  } catch (error) {
    logger.warn(`could not read maxmemory-policy (${(error as Error).message}); make sure it is noeviction, or Redis may delete jobs under memory pressure`);
    return;
  }
  if (policy === undefined || policy === 'noeviction') return;
  const message = `Redis maxmemory-policy is "${policy}": under memory pressure Redis will delete streams and job records, losing jobs. Set it to noeviction (CONFIG SET maxmemory-policy noeviction, or in redis.conf).`;
  if (production) throw new UnusableRedisError('REDIS_UNSAFE_EVICTION', message);
  logger.warn(message);
}

/**
 * Whether this Redis can be used as configured, checked by the API and every worker each time
 * they connect, before they write anything: the URL's database, no cluster mode, and a
 * maxmemory-policy that cannot delete jobs (a warning, or in production a refusal).
 * Throws UnusableRedisError when it cannot be used.
 */
export async function checkRedisSetup(redis: Redis, logger: { warn(message: string): void }, production: boolean): Promise<void> {
  await checkDatabase(redis);
  await checkNotClusterMode(redis);
  await checkEvictionPolicy(redis, logger, production);
}
