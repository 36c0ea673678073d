import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { refuseIdempotencyKey } from '../problems/unkeyed-route.js';
import { deadListQuerySchema, deadListSchema, queueParamsSchema, retryAllBodySchema, retryAllQuerySchema, retryAllSchema } from '../schemas/dead-letters.js';
import { problemResponses } from '../schemas/problem.js';
import { listDead, retryAllDead } from '../services/dead-letters.js';

const deadLetterRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/queues/:name/dead',
    {
      schema: {
        tags: ['dead letters'],
        operationId: 'listDeadLetters',
        summary: "List a queue's dead-lettered jobs, newest first",
        params: queueParamsSchema,
        querystring: deadListQuerySchema,
        response: { 200: deadListSchema, ...problemResponses(400, 404, 503) },
      },
    },
    async (request) => listDead(app.redis, app.jobs.queues.served(request.params.name).map((queue) => app.jobs.keysOf(queue.name)), request.query.limit, request.query.cursor),
  );

  app.post(
    '/queues/:name/dead/retry',
    {
      schema: {
        tags: ['dead letters'],
        operationId: 'retryDeadLetters',
        summary: "Retry a queue's dead-lettered jobs, oldest first",
        description:
          'Retries the jobs dead when the call begins, each once, up to `limit`: a job that dies again while the call goes on is dead-lettered anew and waits for the next call. A retried job counts toward MAX_BACKLOG as a new one: once the queue is full the rest stay dead and `queue_full` says so (a 503 queue-full when none could be retried). A query parameter other than `limit` (a typo such as `?Limit=5`) is a 400, not ignored.',
        params: queueParamsSchema,
        querystring: retryAllQuerySchema,
        body: retryAllBodySchema,
        response: { 200: retryAllSchema, ...problemResponses(400, 404, 503) },
      },
    },
    async (request) => {
      refuseIdempotencyKey(request, 'sent again, it retries the jobs dead by then, those that died again meanwhile included. To retry a job once, use POST /jobs/:id/retry.');
      return retryAllDead(
        app.redis,
        app.jobs.queues.served(request.params.name).map((pipeline) => ({ pipeline, keys: app.jobs.keysOf(pipeline.name), maxBacklog: app.jobs.backlogLimitOf(pipeline) })),
        request.query.limit,
        request.log,
        // Queued again, each counts as enqueued, as the queue's own counts have it.
        () => app.metrics.enqueued.inc({ queue: request.params.name }),
      );
    },
  );
};

export default deadLetterRoutes;
