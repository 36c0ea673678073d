import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { logCreated } from '../job-created-log.js';
import { refuseIdempotencyKey } from '../problems/unkeyed-route.js';
import { queueParamsSchema } from '../schemas/dead-letters.js';
import { historyPageSchema, historyQuerySchema, replayBodySchema, replayQuerySchema, replayResultSchema } from '../schemas/history.js';
import { problemResponses } from '../schemas/problem.js';
import { readHistory } from '../services/history.js';
import { replayRange } from '../services/replay.js';

/**
 * Admin: a stage's processing history (the stream entries still kept: STREAM_HISTORY of acknowledged
 * ones, plus everything undone) and replaying a range of it as new jobs, for debugging.
 */
const historyRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    '/queues/:name/history',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['admin'],
        operationId: 'readHistory',
        summary: "Read a stage's stream history, oldest first",
        description:
          "The entries still kept in the stage's three lane streams, merged in entry ID order, with each job's status now. `from`/`to` take entry IDs or ISO times. Requires ADMIN_TOKEN.",
        params: queueParamsSchema,
        querystring: historyQuerySchema,
        response: { 200: historyPageSchema, ...problemResponses(400, 401, 404, 503) },
      },
    },
    async (request) => {
      const pipeline = app.jobs.queues.partition(request.params.name, request.query.partition, 'querystring.partition');
      return readHistory(app.redis, app.jobs.keysOf(pipeline.name), pipeline, request.query);
    },
  );

  app.post(
    '/queues/:name/replay',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['admin'],
        operationId: 'replayHistory',
        summary: 'Replay a range of history as new jobs',
        description:
          "Each job seen in the range of the stage's history is submitted again as a new job (new ID) on the queue's first stage, with the same input, options and document, and `metadata.replay_of` set to the original job's ID. A job whose input is gone (record expired) is skipped with the reason. All of a call's jobs are enqueued at once or none (503 over MAX_BACKLOG). The options go in the body: a query parameter (`?limit=5`) is a 400, not ignored. Requires ADMIN_TOKEN.",
        params: queueParamsSchema,
        querystring: replayQuerySchema,
        body: replayBodySchema,
        response: { 202: replayResultSchema, ...problemResponses(400, 401, 404, 415, 503) },
      },
    },
    async (request, reply) => {
      refuseIdempotencyKey(request, 'each call submits its range again, as new jobs; to go on from a call, send its next_cursor as `cursor`.');
      const pipeline = app.jobs.queues.partition(request.params.name, request.body.partition, 'body.partition');
      const result = await replayRange(app.redis, app.jobs.keysOf(pipeline.name), pipeline, request.body, app.jobs.backlogLimitOf(pipeline));
      // New jobs, counted as enqueued as every other way in is (the queue's own counts have them).
      if (result.replayed.length > 0) app.metrics.enqueued.inc({ queue: request.params.name }, result.replayed.length);
      request.log.info({ queue: pipeline.name, from: request.body.from, to: request.body.to, replayed: result.replayed.length, skipped: result.skipped.length }, 'replayed history');
      logCreated(request.log, result.replayed.map(({ job_id }) => ({ jobId: job_id, status: 'queued', created: true })));
      return reply.code(202).send(result);
    },
  );
};

export default historyRoutes;
