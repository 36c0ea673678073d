import { isAuthRefusalText } from '@conveyor/shared';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ProblemError } from '../problems/problem-error.js';
import { problemResponses } from '../schemas/problem.js';

const status = z.object({ status: z.string() });

/** Liveness (`/healthz`: the process answers) and readiness (`/readyz`: Redis answers too, on both of the API's connections). */
const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/healthz', { schema: { tags: ['health'], operationId: 'getHealth', summary: 'The process is up', response: { 200: status } } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    { schema: { tags: ['health'], operationId: 'getReadiness', summary: 'Redis is reachable', response: { 200: status, ...problemResponses(503) } } },
    async () => {
      try {
        // Both connections: uploads fail while the large-value one is down, whatever the other says.
        await Promise.all([app.redis.ping(), app.largeValueRedis.ping()]);
      } catch (error) {
        // ioredis's own error here ("Stream isn't writeable ...") only says the connection is down;
        // the connection's last error says why (a wrong password, a refused port).
        const why = app.redisConnectionError() ?? (error as Error).message;
        // Redis that answers with a refusal of the login is not "not answering".
        const said = isAuthRefusalText(why) ? `Redis refuses the API's login (check the user and password in REDIS_URL): ${why}` : `Redis does not answer: ${why}`;
        throw new ProblemError('service-unavailable', said, {}, { 'retry-after': '1' });
      }
      return { status: 'ready' };
    },
  );
};

export default healthRoutes;
