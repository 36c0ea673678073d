import { broadcastMessageSchema, controlChannel, type ApiConfig } from '@conveyor/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemResponses } from '../schemas/problem.js';
import { publishCounted } from '../services/counted-publish.js';

const adminHeaders = z.object({ authorization: z.string().optional().describe('Bearer <ADMIN_TOKEN>') });

const BROADCAST_TYPES = broadcastMessageSchema.options.map((option) => JSON.stringify(option.shape.type.value)).join(', ');

/**
 * The broadcast message, its `type` refused in the words the API uses for other fields: zod says
 * "Invalid discriminator value. Expected 'invalidate-model-cache' | 'reload-config'" of a
 * missing type too.
 */
const broadcastBody = z.discriminatedUnion('type', broadcastMessageSchema.options, {
  error: (issue) => {
    if (issue.code !== 'invalid_union') return undefined;
    const sent = (issue.input as { type?: unknown } | undefined)?.type;
    return sent === undefined ? `is required (one of ${BROADCAST_TYPES})` : `must be one of ${BROADCAST_TYPES}`;
  },
});

/** Admin: broadcast a message to every worker (pub/sub: every subscriber gets every message). */
const adminRoutes: FastifyPluginAsyncZod<{ config: ApiConfig }> = async (app, { config }) => {
  app.post(
    '/admin/broadcast',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['admin'],
        operationId: 'broadcast',
        summary: 'Broadcast a message to every worker',
        description:
          'Published once on the control channel; every live worker receives it and acts: `invalidate-model-cache` drops the built-in models\' cached state (workers load them again at once, or on next use with PRELOAD_MODELS=false), `reload-config` re-reads the settings kept in Redis. Requires ADMIN_TOKEN.',
        headers: adminHeaders,
        body: broadcastBody,
        response: {
          202: z.object({ delivered_to: z.number().int().describe('subscribers that received it (workers, and any other listener)'), message: z.unknown() }),
          ...problemResponses(400, 401, 404, 503),
        },
      },
    },
    async (request, reply) => {
      // A misspelt model would be published, received by every worker and drop nothing.
      if (request.body.type === 'invalidate-model-cache' && request.body.model !== undefined) app.jobs.modelNamed(request.body.model);
      const deliveredTo = await publishCounted(app.redis, controlChannel(config.KEY_PREFIX), JSON.stringify(request.body));
      request.log.info({ message: request.body, delivered_to: deliveredTo }, 'broadcast to the workers');
      return reply.code(202).send({ delivered_to: deliveredTo, message: request.body });
    },
  );
};

export default adminRoutes;
