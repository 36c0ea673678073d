import type { ApiConfig } from '@conveyor/shared';
import fp from 'fastify-plugin';
import { EventHub } from '../services/event-hub.js';
import { StreamSlots } from '../services/stream-slots.js';

declare module 'fastify' {
  interface FastifyInstance {
    events: EventHub;
    /** Open SSE streams, at most MAX_EVENT_STREAMS: closed first at shutdown, so they do not hold it up. */
    streams: StreamSlots;
  }
}

export default fp(
  async (app, { config }: { config: ApiConfig }) => {
    const hub = new EventHub({ url: config.REDIS_URL, cluster: config.REDIS_CLUSTER, seeds: config.REDIS_CLUSTER_NODES, silenceTimeoutMs: config.REDIS_TIMEOUT }, config.KEY_PREFIX, config.QUEUE_PARTITIONS, app.redis, app.log);
    const streams = new StreamSlots(config.MAX_EVENT_STREAMS);
    app.decorate('events', hub);
    app.decorate('streams', streams);
    app.addHook('preClose', async () => {
      for (const stream of streams.open) stream.close();
    });
    app.addHook('onClose', async () => hub.close());
  },
  { name: 'event-hub' },
);
