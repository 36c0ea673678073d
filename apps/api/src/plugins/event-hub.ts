import type { ApiConfig } from '@conveyor/shared';
import fp from 'fastify-plugin';
import { EventHub } from '../services/event-hub.js';
import type { SseStream } from '../services/sse-stream.js';

declare module 'fastify' {
  interface FastifyInstance {
    events: EventHub;
    /** Open SSE streams: closed first at shutdown, so they do not hold it up. */
    streams: Set<SseStream>;
  }
}

export default fp(
  async (app, { config }: { config: ApiConfig }) => {
    const hub = new EventHub({ url: config.REDIS_URL, cluster: config.REDIS_CLUSTER, seeds: config.REDIS_CLUSTER_NODES, silenceTimeoutMs: config.REDIS_TIMEOUT }, config.KEY_PREFIX, config.QUEUE_PARTITIONS, app.redis, app.log);
    const streams = new Set<SseStream>();
    app.decorate('events', hub);
    app.decorate('streams', streams);
    app.addHook('preClose', async () => {
      for (const stream of streams) stream.close();
    });
    app.addHook('onClose', async () => hub.close());
  },
  { name: 'event-hub' },
);
