import type { RedisClient } from './redis.js';
import { LANES, QueueKeys, groupName } from './keys.js';
import type { Pipeline } from './pipelines.js';

/**
 * Creates the consumer group of every stage in every lane's stream, at ID 0 (so entries added
 * before the group existed are not skipped) and with MKSTREAM. An existing group is left as it
 * is. The API and every worker call this at start, so autoscalers that read group lag find the
 * groups before any worker runs.
 */
export async function ensureGroups(redis: RedisClient, prefix: string, pipelines: readonly Pipeline[]): Promise<void> {
  const creations: Promise<unknown>[] = [];
  for (const pipeline of pipelines) {
    const keys = new QueueKeys(prefix, pipeline.name);
    for (const stage of pipeline.stages) {
      for (const lane of LANES) {
        creations.push(
          redis.xgroup('CREATE', keys.stream(stage, lane), groupName(stage), '0', 'MKSTREAM').catch((error: Error) => {
            if (!error.message.startsWith('BUSYGROUP')) throw error;
          }),
        );
      }
    }
  }
  await Promise.all(creations);
}
