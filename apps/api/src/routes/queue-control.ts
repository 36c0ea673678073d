import { controlChannel, type ApiConfig } from '@conveyor/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ProblemError } from '../problems/problem-error.js';
import { queueParamsSchema } from '../schemas/dead-letters.js';
import { problemResponses } from '../schemas/problem.js';
import { onlyParameters } from '../schemas/query-parameters.js';

const stageBody = z
  .object({ stage: z.string().min(1).max(100).optional().describe('one stage; the whole queue when omitted') })
  .strict()
  .nullish();

/** The stage goes in the body; `?stage=embed` is refused rather than ignored, which would pause the whole queue. */
const noQuery = onlyParameters({}, ': pass the stage in the JSON body, e.g. {"stage":"embed"}, or send no body for the whole queue');

const pauseState = z.object({
  queue: z.string(),
  paused: z.array(z.string()).describe('paused stages; "*" means the whole queue'),
});

/**
 * Admin: pause and resume a queue or one of its stages. The state lives in Redis (it survives
 * restarts of workers and API); a control message makes workers apply it at once, and workers
 * also re-read it every MAINTENANCE_INTERVAL, so a missed message delays it by at most that.
 */
const queueControlRoutes: FastifyPluginAsyncZod<{ config: ApiConfig }> = async (app, { config }) => {
  const change = async (name: string, stage: string | undefined, paused: boolean) => {
    const stages = app.jobs.queues.named(name).stages;
    if (stage !== undefined && !stages.includes(stage)) {
      const message = `is not a stage of queue "${name}"; its stages: ${stages.join(', ')}`;
      throw new ProblemError('invalid-request', `Queue "${name}" has no stage "${stage}"; its stages: ${stages.join(', ')}.`, { errors: [{ path: 'body.stage', message }] });
    }
    // A partitioned queue's state is kept in each partition (each on its own cluster node), the same in all.
    const keys = app.jobs.queues.served(name).map((queue) => app.jobs.keysOf(queue.name));
    await Promise.all(
      keys.map(({ paused: key }) => {
        if (paused) return app.redis.hset(key, stage ?? '*', Date.now());
        return stage === undefined ? app.redis.del(key) : app.redis.hdel(key, stage);
      }),
    );
    await app.redis.publish(controlChannel(config.KEY_PREFIX), JSON.stringify({ type: 'pause-changed', queue: name }));
    return { queue: name, paused: (await app.redis.hkeys(keys[0]!.paused)).sort() };
  };
  const schema = (operationId: string, summary: string) => ({
    tags: ['admin'],
    operationId,
    summary,
    params: queueParamsSchema,
    querystring: noQuery,
    body: stageBody,
    response: { 200: pauseState, ...problemResponses(400, 401, 404, 503) },
  });

  app.post('/queues/:name/pause', { onRequest: app.requireAdmin, schema: schema('pauseQueue', 'Pause a queue or one of its stages') }, async (request) =>
    change(request.params.name, request.body?.stage, true),
  );
  app.post('/queues/:name/resume', { onRequest: app.requireAdmin, schema: schema('resumeQueue', 'Resume a queue or one of its stages') }, async (request) =>
    change(request.params.name, request.body?.stage, false),
  );
};

export default queueControlRoutes;
