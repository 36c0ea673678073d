import type { RedisClient } from '@conveyor/shared';
import { Cluster } from 'ioredis';

/**
 * Publishes a message and answers how many subscribers it reached. A single Redis says so in
 * PUBLISH's reply. On Redis Cluster PUBLISH reaches the subscribers of every node but counts only
 * those of the node that took it, so there the answer is the channel's subscribers on every node
 * (PUBSUB NUMSUB), asked right after: a subscriber that came or went meanwhile is miscounted.
 */
export async function publishCounted(redis: RedisClient, channel: string, message: string): Promise<number> {
  const reached = await redis.publish(channel, message);
  if (!(redis instanceof Cluster)) return reached;
  const counts = await Promise.all(redis.nodes('all').map((node) => node.pubsub('NUMSUB', channel).then((reply) => Number((reply as unknown[])[1] ?? 0), () => 0)));
  return counts.reduce((sum, count) => sum + count, 0);
}
