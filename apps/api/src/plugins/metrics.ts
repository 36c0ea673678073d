import { allServedQueues, groupName, isConnectionError, isPermissionRefusal, isRefusedForNow, isWrongType, LANES, liveConsumers, pairsOf, QueueKeys, stageGroup, type ApiConfig } from '@conveyor/shared';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { msOfTime, withoutCancelled } from '../services/queue-stats.js';
import { countWaiting, unknownLag, type UnknownLag } from '../services/waiting-count.js';

export interface ApiMetrics {
  registry: Registry;
  enqueued: Counter<'queue'>;
  redisErrors: Counter;
  /** Counts a request answered before any route (bytes Node could not read, an Expect it does not meet, CONNECT), as route `unrouted`. */
  countUnrouted(method: string, status: number): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ApiMetrics;
  }
}

/**
 * Prometheus metrics of the API at `/metrics`: HTTP requests, jobs enqueued, Redis errors, and,
 * read from Redis at each scrape, every stage's backlog (waiting and pending), delayed and dead
 * counts. Labels are routes, methods, statuses, queues and stages: a bounded set.
 */
export default fp(
  async (app, { config }: { config: ApiConfig }) => {
    const registry = new Registry();
    const registers = [registry];
    // Event-loop lag sampled every 100 ms: at prom-client's 10 ms the timer alone woke an idle
    // process 100 times a second (test/e2e/inference.test.ts, "an idle stack").
    collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
    const requests = new Counter({ name: 'conveyor_http_requests_total', help: 'HTTP requests answered.', labelNames: ['method', 'route', 'status'] as const, registers });
    const durations = new Histogram({
      name: 'conveyor_http_request_duration_seconds',
      help: 'Time to answer an HTTP request.',
      labelNames: ['method', 'route'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    const enqueued = new Counter({ name: 'conveyor_jobs_enqueued_total', help: 'Jobs this API process enqueued, retries of dead jobs and replays of history included.', labelNames: ['queue'] as const, registers });
    const redisErrors = new Counter({ name: 'conveyor_redis_errors_total', help: 'Errors of the Redis connections (lost, refused, timed out); commands Redis refuses are not counted here.', registers });

    const waiting = new Gauge({ name: 'conveyor_stage_waiting', help: 'Entries of a stage no worker has taken yet (group lag, less those of jobs cancelled while they waited), all lanes; counted when Redis cannot report the lag.', labelNames: ['queue', 'stage'] as const, registers });
    const pending = new Gauge({ name: 'conveyor_stage_pending', help: 'Entries of a stage held by workers (PEL), all lanes.', labelNames: ['queue', 'stage'] as const, registers });
    const liveConsumerCount = new Gauge({
      name: 'conveyor_stage_live_consumers',
      help: "Consumers of a stage whose worker is alive and taking jobs (GET /queues' live_consumers): 0 while conveyor_stage_waiting grows means nobody reads the stage.",
      labelNames: ['queue', 'stage'] as const,
      registers,
    });
    const paused = new Gauge({
      name: 'conveyor_stage_paused',
      help: 'Whether a stage is paused (1: workers take none of its jobs) or not (0): a paused stage with conveyor_stage_live_consumers 0 and a growing backlog is waiting for a resume, not for workers.',
      labelNames: ['queue', 'stage'] as const,
      registers,
    });
    const delayed = new Gauge({ name: 'conveyor_queue_delayed', help: 'Jobs waiting for a retry backoff or run_at.', labelNames: ['queue'] as const, registers });
    const dead = new Gauge({ name: 'conveyor_queue_dead', help: 'Dead-lettered jobs kept.', labelNames: ['queue'] as const, registers });
    const backlogRead = new Gauge({
      name: 'conveyor_backlog_readable',
      help: 'Whether this scrape read the queues from Redis (1), or could not (0): the queue and stage gauges then keep the last values read, not zeros.',
      registers,
    });
    // A partitioned queue's partitions are each their own `queue` label (`documents.2`).
    const queues = allServedQueues(config.QUEUE_PARTITIONS).map((pipeline) => ({ pipeline, keys: new QueueKeys(config.KEY_PREFIX, pipeline.name) }));
    // One pipeline per queue, read side by side: a queue's keys share a hash slot, so each is
    // legal on Redis Cluster, where the queues may live on different nodes.
    const readQueueBacklog = async ({ pipeline, keys }: (typeof queues)[number]) => {
      const reads = app.redis.pipeline();
      for (const stage of pipeline.stages) for (const lane of LANES) reads.xinfo('GROUPS', keys.stream(stage, lane));
      reads.zcard(keys.delayed).xlen(keys.dead);
      for (const stage of pipeline.stages) for (const lane of LANES) reads.xinfo('CONSUMERS', keys.stream(stage, lane), groupName(stage));
      // The workers' words are on Redis's clock (see QueueKeys.workers).
      reads.hgetall(keys.workers).time().hkeys(keys.paused).hgetall(keys.cancelled);
      const replies = (await reads.exec()) ?? [];
      // A stream that does not exist yet answers XINFO with an error, and counts as empty; a lost
      // or refusing Redis leaves every gauge as it was (zeros would say the backlog had drained).
      // A user refused the keys (ACLs) cannot read them either: NOPERM is no missing stream. Nor
      // is a key that another program filled with another kind of value (WRONGTYPE): read as
      // empty, it showed that queue drained while GET /queues answered 503 redis-key-conflict.
      const unreadable = replies.find(([error]) => isConnectionError(error) || isRefusedForNow(error) || isPermissionRefusal(error) || isWrongType(error));
      if (unreadable) throw unreadable[0];
      let at = 0;
      // Read last: jobs cancelled while their entry waited, taken off each lane's lag.
      const [cancelledError, cancelledReply] = replies[replies.length - 1]!;
      const cancelled = (cancelledError ? {} : (cancelledReply ?? {})) as Record<string, string>;
      const cancelledIn = (stage: string, lane: string) => Number(cancelled[`${stage}:${lane}`] ?? 0);
      type UnknownLane = UnknownLag & { cancelled: number };
      const stages: { labels: { queue: string; stage: string }; lag: number; unknown: UnknownLane[] }[] = [];
      for (const stage of pipeline.stages) {
        const read = { labels: { queue: pipeline.name, stage }, lag: 0, unknown: [] as UnknownLane[] };
        let held = 0;
        for (const lane of LANES) {
          const [error, groups] = replies[at++]!;
          if (error) continue;
          const group = stageGroup(groups as unknown[], stage);
          const unknown = unknownLag(keys.stream(stage, lane), group);
          if (unknown) read.unknown.push({ ...unknown, cancelled: cancelledIn(stage, lane) });
          else read.lag += withoutCancelled(Number(group?.['lag'] ?? 0), cancelledIn(stage, lane))!;
          held += Number(group?.['pending'] ?? 0);
        }
        stages.push(read);
        pending.set(read.labels, held);
      }
      delayed.set({ queue: pipeline.name }, Number(replies[at++]?.[1] ?? 0));
      dead.set({ queue: pipeline.name }, Number(replies[at++]?.[1] ?? 0));
      const consumersOf = pipeline.stages.map(() => new Set<string>());
      for (const names of consumersOf) {
        for (const _lane of LANES) {
          const [error, consumers] = replies[at++]!;
          if (!error) for (const consumer of consumers as unknown[][]) names.add(String(pairsOf(consumer)['name']));
        }
      }
      const [wordsError, words] = replies[at++]!;
      const [timeError, time] = replies[at++]!;
      if (!wordsError && !timeError) {
        const live = liveConsumers(words as Record<string, string>, msOfTime(time as [string, string]));
        pipeline.stages.forEach((stage, s) => liveConsumerCount.set({ queue: pipeline.name, stage }, [...consumersOf[s]!].filter((name) => live.has(name)).length));
      }
      const [pausedError, pausedStages] = replies[at++]!;
      if (!pausedError) {
        // Field `*` pauses every stage of the queue.
        const names = new Set(pausedStages as string[]);
        for (const stage of pipeline.stages) paused.set({ queue: pipeline.name, stage }, names.has('*') || names.has(stage) ? 1 : 0);
      }
      // Where Redis cannot tell a lag, the waiting entries are counted; past the count's bound,
      // the stream's length stands in (an upper bound: a backlog is never reported as empty).
      const counted = await countWaiting(app.redis, stages.flatMap((stage) => stage.unknown));
      for (const { labels, lag, unknown } of stages) {
        let total = lag;
        for (const { stream, cancelled: gone } of unknown) total += withoutCancelled(counted.get(stream) ?? (await app.redis.xlen(stream)), gone)!;
        waiting.set(labels, total);
      }
    };
    const readBacklog = async () => {
      try {
        await Promise.all(queues.map(readQueueBacklog));
        backlogRead.set(1);
      } catch (error) {
        backlogRead.set(0);
        throw error;
      }
    };

    const countUnrouted = (method: string, status: number) => requests.inc({ method, route: 'unrouted', status: String(status) });
    app.decorate('metrics', { registry, enqueued, redisErrors, countUnrouted });
    // A callback hook, not an async one: it runs on every request and needs no promise.
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      requests.inc({ method: request.method, route, status: String(reply.statusCode) });
      durations.observe({ method: request.method, route }, reply.elapsedTime / 1_000);
      done();
    });
    app.get('/metrics', { schema: { tags: ['health'], operationId: 'getMetrics', summary: 'Prometheus metrics' } }, async (request, reply) => {
      // A scrape while Redis is away still returns the process's own metrics.
      // A key conflict is the operator's to mend, and said as GET /queues says it; Redis away is said elsewhere.
      await readBacklog().catch((error: Error) =>
        isWrongType(error)
          ? request.log.warn({ err: error.message }, 'could not read the backlog for /metrics: a key of the queues holds another kind of value than Conveyor keeps there (the gauges keep their last values; GET /queues names the key)')
          : request.log.debug({ err: error.message }, 'could not read the backlog for /metrics'),
      );
      return reply.type(registry.contentType).send(await registry.metrics());
    });
  },
  { name: 'metrics', dependencies: ['redis'] },
);
