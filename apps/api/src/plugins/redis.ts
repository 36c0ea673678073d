import { checkRedisSetup, createRedis, ensureGroups, PIPELINES, UnusableRedisError, type ApiConfig } from '@conveyor/shared';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';

declare module 'fastify' {
  interface FastifyInstance {
    redis: Redis;
    /** While the connection is not ready, the last error it reported (WRONGPASS, ECONNREFUSED ...), for /readyz. */
    redisConnectionError(): string | undefined;
  }
}

/**
 * The API's Redis connection, fail-fast: while Redis is unreachable a request gets a 503
 * within a second rather than hanging. Each time the connection becomes ready the consumer
 * groups are (re)created, so autoscalers find them before any worker starts; a Redis that cannot
 * be used as configured (no such database, cluster mode, an evicting one in production) stops the API.
 */
export default fp(
  async (app, { config }: { config: ApiConfig }) => {
    const redis = createRedis(config.REDIS_URL, { role: 'command', name: 'conveyor:api', failFast: true, silenceTimeoutMs: config.REDIS_TIMEOUT });
    let lastError = '';
    redis.on('error', (error: Error) => {
      app.metrics?.redisErrors.inc();
      if (error.message !== lastError) app.log.warn({ err: error.message }, 'Redis connection error');
      lastError = error.message;
    });
    redis.on('ready', () => {
      lastError = '';
      checkRedisSetup(redis, app.log, config.NODE_ENV === 'production')
        .then(() => ensureGroups(redis, config.KEY_PREFIX, PIPELINES))
        .catch((error: Error) => {
          if (!(error instanceof UnusableRedisError)) {
            // The connection dropped meanwhile: all of this runs again when it is back.
            app.log.warn({ err: error.message }, 'could not prepare Redis; this runs again each time the connection is back');
            return;
          }
          app.log.fatal({ err: error.message, code: error.code }, `Redis is not usable as configured; stopping: ${error.message}`);
          process.exitCode = 1;
          void app.close();
        });
    });
    app.decorate('redis', redis);
    app.decorate('redisConnectionError', () => (redis.status === 'ready' || lastError === '' ? undefined : lastError));
    app.addHook('onClose', async () => {
      await redis.quit().catch(() => redis.disconnect());
    });
  },
  { name: 'redis' },
);
