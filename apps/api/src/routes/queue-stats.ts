import { PIPELINES, type Pipeline } from '@conveyor/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { queueParamsSchema } from '../schemas/dead-letters.js';
import { problemResponses } from '../schemas/problem.js';
import { queueListSchema, queueStatsSchema } from '../schemas/queue-stats.js';
import { mergeQueueStats, readQueueStats, redisNow } from '../services/queue-stats.js';

const description =
  'Per stage and lane: entries kept, waiting (group lag), held by workers (pending), the oldest held entry, and each consumer; per queue: delayed and dead jobs, paused stages, and event counts over the current minute and the last hour.';

const queueStatsRoutes: FastifyPluginAsyncZod = async (app) => {
  /** One queue's statistics; a partitioned queue's summed over its partitions, each listed too. */
  const statsOf = async (pipeline: Pipeline, now: number) => {
    const served = app.jobs.queues.served(pipeline.name);
    const parts = await Promise.all(served.map((queue) => readQueueStats(app.redis, app.jobs.keysOf(queue.name), queue, now)));
    return parts.length === 1 ? parts[0]! : mergeQueueStats(pipeline, parts);
  };

  app.get(
    '/queues',
    {
      schema: {
        tags: ['queues'],
        operationId: 'listQueues',
        summary: 'Statistics of every queue',
        description,
        response: { 200: queueListSchema, ...problemResponses(503) },
      },
    },
    async () => {
      const now = await redisNow(app.redis);
      return { queues: await Promise.all(PIPELINES.map((pipeline) => statsOf(pipeline, now))) };
    },
  );

  app.get(
    '/queues/:name',
    {
      schema: {
        tags: ['queues'],
        operationId: 'getQueue',
        summary: 'Statistics of one queue',
        description,
        params: queueParamsSchema,
        response: { 200: queueStatsSchema, ...problemResponses(400, 404, 503) },
      },
    },
    async (request) => {
      const pipeline = app.jobs.queues.named(request.params.name);
      return statsOf(pipeline, await redisNow(app.redis));
    },
  );
};

export default queueStatsRoutes;
