import { allServedQueues, checkKeyTypes, checkRedisSetup, ConnectionCause, createRedis, ensureGroups, notAClusterRefusal, permissionRefusal, UnusableRedisError, warningsOnce, warnOfStrandedPartitions, type ApiConfig, type RedisClient } from '@conveyor/shared';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { setTimeout as sleep } from 'node:timers/promises';

declare module 'fastify' {
  interface FastifyInstance {
    redis: RedisClient;
    /** The connection for documents, large batches and whole outputs (see largeValueTimeoutMs). */
    largeValueRedis: RedisClient;
    /** While a connection is not ready, the last error it reported (WRONGPASS, ECONNREFUSED ...), for /readyz. */
    redisConnectionError(): string | undefined;
    /**
     * Settles once Redis was first checked and prepared: true if the API may serve, false if it
     * found Redis unusable and is stopping. Pending while Redis cannot be reached.
     */
    redisPrepared: Promise<boolean>;
  }
}

/** How long a stopping API waits for Redis to answer its QUIT on each connection. */
const QUIT_MS = 1_000;

/**
 * How long a command on the large-value connection may wait for its answer. The API's own
 * connection fails a command after a second, so that a client gets a 503 at once from a Redis
 * that is down or stuck. A 20 MiB document does not fit that second: on a 2-core VM Redis took
 * 0.15 s to store one, and six uploaded at once queue behind one another. With one second, 11 of
 * 18 such uploads (six at a time, four workers busy) were answered 503 although they were stored.
 * The largest body allowed gets a second per 2 MiB, and never less than 5 s.
 */
function largeValueTimeoutMs(config: Pick<ApiConfig, 'MAX_DOCUMENT_BYTES' | 'MAX_BATCH_BYTES'>): number {
  return Math.max(5_000, Math.ceil((Math.max(config.MAX_DOCUMENT_BYTES, config.MAX_BATCH_BYTES) / (2 * 1024 * 1024)) * 1_000));
}

/**
 * The API's Redis connections, fail-fast: while Redis is unreachable a request gets a 503
 * within a second rather than hanging. Each time the connection becomes ready the consumer
 * groups are (re)created, so autoscalers find them before any worker starts; a Redis that cannot
 * be used as configured (no such database, cluster mode other than REDIS_CLUSTER says, an evicting
 * one in production, queue keys holding another program's values) stops the API.
 *
 * Documents, large batches and whole outputs go on a second connection, with a longer command
 * timeout. On the first, small jobs' commands would wait behind a 20 MiB write in the socket.
 */
export default fp(
  async (app, { config }: { config: ApiConfig }) => {
    const redis = createRedis(config.REDIS_URL, { role: 'command', name: 'conveyor:api', failFast: true, silenceTimeoutMs: config.REDIS_TIMEOUT, cluster: config.REDIS_CLUSTER, seeds: config.REDIS_CLUSTER_NODES });
    let stopping = false;
    let prepared: (usable: boolean) => void = () => {};
    const redisPrepared = new Promise<boolean>((resolve) => (prepared = resolve));
    const stop = (error: UnusableRedisError) => {
      prepared(false);
      if (stopping) return;
      stopping = true;
      app.log.fatal({ err: error.message, code: error.code }, `Redis is not usable as configured; stopping: ${error.message}`);
      process.exitCode = 1;
      void app.close();
    };
    const lastError = reportErrors(app, redis, 'Redis connection error', config.REDIS_URL);
    redis.on('error', (error: Error) => {
      // A cluster client on a Redis not in cluster mode never becomes ready: stop, saying so.
      const refusal = notAClusterRefusal(error);
      if (refusal) stop(refusal);
    });
    // Checked at every reconnect: each warning once.
    const redisWarnings = warningsOnce(app.log);
    redis.on('ready', () => {
      const queues = allServedQueues(config.QUEUE_PARTITIONS);
      checkRedisSetup(redis, redisWarnings, config.NODE_ENV === 'production')
        .then(() => checkKeyTypes(redis, config.KEY_PREFIX, queues))
        .then(() => ensureGroups(redis, config.KEY_PREFIX, queues))
        .then(() => warnOfStrandedPartitions(redis, config.KEY_PREFIX, config.QUEUE_PARTITIONS, app.log))
        .then(() => prepared(true))
        .catch((error: Error) => {
          // A user without Conveyor's keys: every request would be refused the same way.
          const refusal = permissionRefusal(error, config.KEY_PREFIX);
          if (refusal) return stop(refusal);
          if (!(error instanceof UnusableRedisError)) {
            prepared(true);
            // The connection dropped meanwhile: all of this runs again when it is back.
            app.log.warn({ err: error.message }, 'could not prepare Redis; this runs again each time the connection is back');
            return;
          }
          stop(error);
        });
    });
    const timeoutMs = largeValueTimeoutMs(config);
    const largeValueRedis = createRedis(config.REDIS_URL, {
      role: 'command',
      name: 'conveyor:api:large',
      failFast: true,
      commandTimeoutMs: timeoutMs,
      silenceTimeoutMs: Math.max(config.REDIS_TIMEOUT, timeoutMs),
      cluster: config.REDIS_CLUSTER,
      seeds: config.REDIS_CLUSTER_NODES,
    });
    const lastLargeValueError = reportErrors(app, largeValueRedis, 'Redis connection error (the large-value connection)', config.REDIS_URL);
    app.decorate<RedisClient>('redis', redis);
    app.decorate<RedisClient>('largeValueRedis', largeValueRedis);
    app.decorate('redisPrepared', redisPrepared);
    app.decorate('redisConnectionError', () => {
      if (redis.status !== 'ready' && lastError() !== '') return lastError();
      if (largeValueRedis.status !== 'ready' && lastLargeValueError() !== '') return `${lastLargeValueError()} (the connection for uploads, large batches and whole outputs)`;
      return undefined;
    });
    app.addHook('onClose', async () => {
      // A QUIT waits for its answer: a Redis that hangs held the stop for 10 s with nothing in
      // flight. Unanswered within QUIT_MS, the connection is dropped (Redis closes its side itself).
      await Promise.all(
        [redis, largeValueRedis].map(async (connection) => {
          await Promise.race([connection.quit().catch(() => undefined), sleep(QUIT_MS, undefined, { ref: false })]);
          connection.disconnect();
        }),
      );
    });
  },
  { name: 'redis' },
);

/** Counts and logs a connection's errors, each cause once until it is ready again; returns the last one (or that it closed), '' while it is ready. */
function reportErrors(app: FastifyInstance, connection: RedisClient, message: string, redisUrl: string): () => string {
  const cause = new ConnectionCause(redisUrl);
  connection.on('error', (error: Error) => {
    app.metrics?.redisErrors.inc();
    const before = cause.current;
    const said = cause.note(error.message);
    if (said !== undefined && said !== before) app.log.warn({ err: said }, message);
  });
  // Redis at its maxclients writes its refusal and closes the connection, often before ioredis
  // has sent anything, so no error is reported: the close is then the reason.
  connection.on('close', () => {
    if (cause.current !== undefined) return;
    const said = cause.note('Redis closed the connection; reconnecting');
    // Said, as an error is: the "is back" line that follows would otherwise follow nothing. A
    // close the API made (its QUIT at a stop) is no news: the client's status is "end" once it
    // has handled it, as the worker tells it.
    setImmediate(() => {
      if (said !== undefined && connection.status !== 'end') app.log.warn({ err: said }, message);
    });
  });
  connection.on('ready', () => {
    // As a worker's log says it: an operator reading "Redis connection error" learns when it ended.
    if (cause.current !== undefined) app.log.info(`${message.replace(' error', '')} is back`);
    cause.ready();
  });
  return () => cause.current ?? '';
}
