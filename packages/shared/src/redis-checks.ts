import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './redis.js';
import { aclAdvice, isAuthRefusal, isPermissionRefusal } from './redis-errors.js';

/** Redis answers but cannot be used as configured: the process stops rather than run wrongly. */
export class UnusableRedisError extends Error {
  constructor(
    readonly code: 'REDIS_TOO_OLD' | 'REDIS_UNSAFE_EVICTION' | 'REDIS_NO_SUCH_DATABASE' | 'REDIS_CLUSTER_MODE' | 'REDIS_NOT_A_CLUSTER' | 'REDIS_FOREIGN_KEYS' | 'REDIS_NO_PERMISSION' | 'REDIS_AUTH',
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
 * REDIS_CLUSTER says which client to use, and the server must agree. A plain client on a cluster
 * node would get MOVED for keys the node does not own, so requests would fail one by one; a
 * cluster client on a plain Redis cannot start. Stop at start instead, saying what to set.
 * Without INFO permission there is nothing to check.
 */
async function checkClusterMode(redis: RedisClient): Promise<void> {
  if (redis instanceof Cluster) return whenClusterReady(redis);
  const info = await redis.info('cluster').catch(() => '');
  if (!/^cluster_enabled:1\b/m.test(info)) return;
  throw new UnusableRedisError(
    'REDIS_CLUSTER_MODE',
    'REDIS_URL leads to a Redis Cluster node in cluster mode, but REDIS_CLUSTER is not set. Set REDIS_CLUSTER=true so commands go to the node that serves each queue (REDIS_URL then names any node of the cluster).',
  );
}

/**
 * The refusal to stop on when Redis refused a command of the start (key types, consumer groups)
 * to REDIS_URL's user, or refused its password: every request would fail the same way, so the
 * process stops and says what the user lacks, rather than serve (or report ready) and fail each
 * request.
 */
export function permissionRefusal(error: unknown, prefix: string): UnusableRedisError | undefined {
  if (isAuthRefusal(error)) return authRefusal(error as Error);
  if (!isPermissionRefusal(error)) return undefined;
  return new UnusableRedisError('REDIS_NO_PERMISSION', `Redis refuses a command Conveyor needs to the user in REDIS_URL (${(error as Error).message}): ${aclAdvice(prefix)}.`);
}

/** A password (or user) Redis refuses: said as such, not as a Redis that cannot be read. */
function authRefusal(error: Error): UnusableRedisError {
  return new UnusableRedisError('REDIS_AUTH', `Redis refuses the user and password in REDIS_URL (${error.message}): put the right ones in REDIS_URL, redis://<user>:<password>@<host>:<port> (no user for Redis's default one), or create that user (README, Operations: Redis access).`);
}

const NOT_A_CLUSTER = /cluster support disabled/;

/**
 * A cluster client on a Redis that is not in cluster mode never becomes ready: it reports that
 * it cannot read the slot map ("ERR This instance has cluster support disabled") and tries again.
 * Such an error is the refusal to stop on; anything else is not.
 */
export function notAClusterRefusal(error: Error): UnusableRedisError | undefined {
  // The client's own error ("Failed to refresh slots cache.") carries the node's as lastNodeError.
  const nodeError = (error as Error & { lastNodeError?: Error }).lastNodeError;
  if (!NOT_A_CLUSTER.test(error.message) && !NOT_A_CLUSTER.test(nodeError?.message ?? '')) return undefined;
  return new UnusableRedisError(
    'REDIS_NOT_A_CLUSTER',
    'REDIS_CLUSTER=true, but REDIS_URL leads to a Redis that is not in cluster mode (it says: ERR This instance has cluster support disabled). Unset REDIS_CLUSTER (or set it to false) for a single Redis or a primary with replicas.',
  );
}

/** Resolves once the cluster client is ready; rejects with the refusal when it leads to a Redis not in cluster mode. */
function whenClusterReady(redis: Cluster): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      const refusal = notAClusterRefusal(error);
      if (!refusal) return;
      redis.off('ready', onReady);
      redis.off('error', onError);
      reject(refusal);
    };
    const onReady = () => {
      redis.off('error', onError);
      resolve();
    };
    redis.once('ready', onReady);
    redis.on('error', onError);
  });
}

/** Every node that holds queues: the one Redis, or on a cluster each primary. */
function primariesOf(redis: RedisClient): Redis[] {
  return redis instanceof Cluster ? redis.nodes('master') : [redis];
}

/**
 * The refusal for a Redis whose INFO gives this `redis_version`, or undefined when it is 7.0 or
 * newer. The scripts use what 7.0 added: on an older Redis the API would store jobs whose workers
 * then fail script by script. A version that cannot be read (a server that reports its own scheme)
 * is not refused.
 */
export function redisVersionRefusal(version: string): UnusableRedisError | undefined {
  const major = /^(\d+)\.\d/.exec(version)?.[1];
  if (major === undefined || Number(major) >= 7) return undefined;
  return new UnusableRedisError(
    'REDIS_TOO_OLD',
    `Redis ${version} is older than 7.0, which Conveyor needs: its scripts use what 7.0 added (EXPIRE with NX, XCLAIM dropping deleted entries from a pending list, a consumer group's lag). Point REDIS_URL at Redis 7.0 or newer.`,
  );
}

/** Stops on a Redis older than 7.0 (on a cluster, any primary). Without INFO permission there is nothing to check. */
async function checkVersion(redis: RedisClient, logger: { warn(message: string): void }): Promise<void> {
  let infos: string[];
  try {
    infos = await Promise.all(primariesOf(redis).map((node) => node.info('server')));
  } catch (error) {
    // A refused password is no version that cannot be read: the start stops on it, saying so.
    if (isAuthRefusal(error)) throw authRefusal(error as Error);
    logger.warn(`could not read the Redis version (${(error as Error).message}); Conveyor needs Redis 7.0 or newer`);
    return;
  }
  for (const info of infos) {
    const version = /^redis_version:(\S+)/m.exec(info)?.[1];
    const refusal = version === undefined ? undefined : redisVersionRefusal(version);
    if (refusal) throw refusal;
  }
}

/**
 * Any maxmemory-policy but `noeviction` lets Redis delete streams and job records when memory
 * runs short: jobs would vanish. Warn loudly; refuse to run in production. Managed services that
 * hide CONFIG get a warning that the policy could not be checked.
 */
async function checkEvictionPolicy(redis: RedisClient, logger: { warn(message: string): void }, production: boolean): Promise<void> {
  let policy: string | undefined;
  try {
    // On a cluster every primary holds some queues: any one of them evicting loses jobs.
    const policies = await Promise.all(primariesOf(redis).map(async (node) => ((await node.config('GET', 'maxmemory-policy')) as string[])[1]));
    policy = policies.find((each) => each !== undefined && each !== 'noeviction');
  } catch (error) {
    if (isAuthRefusal(error)) throw authRefusal(error as Error);
    logger.warn(`could not read maxmemory-policy (${(error as Error).message}); make sure it is noeviction, or Redis may delete jobs under memory pressure`);
    return;
  }
  if (policy === undefined || policy === 'noeviction') return;
  const message = `Redis maxmemory-policy is "${policy}": under memory pressure Redis will delete streams and job records, losing jobs. Set it to noeviction (CONFIG SET maxmemory-policy noeviction, or in redis.conf).`;
  if (production) throw new UnusableRedisError('REDIS_UNSAFE_EVICTION', message);
  logger.warn(message);
}

/**
 * A logger for checkRedisSetup run on every reconnect: each warning once per process (a CONFIG
 * the ACL refuses was warned of again at every reconnect), a changed one again.
 */
export function warningsOnce(logger: { warn(message: string): void }): { warn(message: string): void } {
  const said = new Set<string>();
  return {
    warn: (message) => {
      if (said.has(message)) return;
      said.add(message);
      logger.warn(message);
    },
  };
}

/**
 * Whether this Redis can be used as configured, checked by the API and every worker each time
 * they connect, before they write anything: cluster mode as REDIS_CLUSTER says, Redis 7.0 or newer,
 * the URL's database, and a maxmemory-policy that cannot delete jobs (a warning, or in production
 * a refusal). Throws UnusableRedisError when it cannot be used.
 */
export async function checkRedisSetup(redis: RedisClient, logger: { warn(message: string): void }, production: boolean): Promise<void> {
  await checkClusterMode(redis);
  await checkVersion(redis, logger);
  if (!(redis instanceof Cluster)) await checkDatabase(redis);
  await checkEvictionPolicy(redis, logger, production);
}
