import type { ConnectionOptions } from 'bullmq';

/** BullMQ's connection options for a `redis://host:port` URL (the benchmark's own Redis). */
export function bullmqConnection(url: string): ConnectionOptions {
  const { hostname, port } = new URL(url);
  // Workers block on Redis; BullMQ requires unlimited retries for their connections.
  return { host: hostname, port: Number(port), maxRetriesPerRequest: null };
}

export const BULLMQ_QUEUE = 'inference';
