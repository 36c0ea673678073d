import type { ApiConfig } from '@conveyor/shared';
import fp from 'fastify-plugin';
import { JobService } from '../services/job-service.js';

declare module 'fastify' {
  interface FastifyInstance {
    jobs: JobService;
  }
}

export default fp(
  async (app, { config }: { config: ApiConfig }) => {
    app.decorate('jobs', new JobService(app.redis, app.largeValueRedis, config, (queue, count) => app.metrics.enqueued.inc({ queue }, count)));
  },
  { name: 'jobs', dependencies: ['redis', 'metrics'] },
);
