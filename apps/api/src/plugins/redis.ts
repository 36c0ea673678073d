import { checkRedisSetup, createRedis, ensureGroups, notAClusterRefusal, allServedQueues, UnusableRedisError, type ApiConfig, type RedisClient } from '@conveyor/shared';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    redis: RedisClient;
    /** While the connection is not ready, the last error it reported (WRONGPASS, ECONNREFUSED ...), for /readyz. */
    redisConnectionError(): string | undefined;
  }
}

/**
 * The API's Redis connection, fail-fast: while Redis is unreachable a request gets a 503
 * within a second rather than hanging. Each time the connection becomes ready the consumer
 * groups are (re)created, so autoscalers find them before any worker starts; a Redis that cannot
 * be used as configured (no such database, cluster mode other than REDIS_CLUSTER says, an evicting
 * one in production) stops the API.
 */
export default fp(
  async (app, { config }: { config: ApiConfig }) => {
    const redis = createRedis(config.REDIS_URL, { role: 'command', name: 'conveyor:api', failFast: true, silenceTimeoutMs: config.REDIS_TIMEOUT, cluster: config.REDIS_CLUSTER, seeds: config.REDIS_CLUSTER_NODES });
    let lastError = '';
    let stopping = false;
    const stop = (error: UnusableRedisError) => {
      if (stopping) return;
      stopping = true;
      app.log.fatal({ err: error.message, code: error.code }, `Redis is not usable as configured; stopping: ${error.message}`);
      process.exitCode = 1;
      void app.close();
    };
    redis.on('error', (error: Error) => {
      app.metrics?.redisErrors.inc();
      if (error.message !== lastError) app.log.warn({ err: error.message }, 'Redis connection error');
      lastError = error.message;
      // A cluster client on a Redis not in cluster mode never becomes ready: stop, saying so.
      const refusal = notAClusterRefusal(error);
      if (refusal) stop(refusal);
    });
    redis.on('ready', () => {
      lastError = '';
      checkRedisSetup(redis, app.log, config.NODE_ENV === 'production')
        .then(() => ensureGroups(redis, config.KEY_PREFIX, allServedQueues(config.QUEUE_PARTITIONS)))
        .catch((error: Error) => {
          if (!(error instanceof UnusableRedisError)) {
            // The connection dropped meanwhile: all of this runs again when it is back.
            app.log.warn({ err: error.message }, 'could not prepare Redis; this runs again each time the connection is back');
            return;
          }
          stop(error);
        });
    });
    app.decorate<RedisClient>('redis', redis);
    app.decorate('redisConnectionError', () => (redis.status === 'ready' || lastError === '' ? undefined : lastError));
    app.addHook('onClose', async () => {
      await redis.quit().catch(() => redis.disconnect());
    });
  },
  { name: 'redis' },
);
