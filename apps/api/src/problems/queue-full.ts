import type { Pipeline, QueueKeys, RedisClient } from '@conveyor/shared';
import { ProblemError } from './problem-error.js';

/**
 * The 503 for a queue, or one of its partitions (`pipeline`, its keys `keys`), that holds more
 * undone jobs than MAX_BACKLOG allows (its stages' waiting and running ones, delayed and retrying
 * ones), as the enqueue script counted them (`full`). Its paused stages are read, only then: a
 * paused queue does not drain, and "try again later" alone would have its clients wait for ever.
 */
export async function queueFull(redis: RedisClient, keys: QueueKeys, pipeline: Pipeline, { backlog, limit }: { backlog: number; limit: number }, advice = 'try again later'): Promise<ProblemError> {
  const paused = await redis.hkeys(keys.paused).catch((): string[] => []);
  const { stages, partition } = pipeline;
  const where = stages.length === 1 ? `stage "${stages[0]}"` : `its stages (${stages.join(', ')})`;
  // Clients name queues, not partitions: a partition is told as one, with its share of the limit.
  const what = partition ? `Partition ${partition.index} of queue "${partition.queue}"` : `Queue "${pipeline.name}"`;
  const of = partition ? `limit ${limit}, its share of MAX_BACKLOG` : `limit ${limit}`;
  const queue = partition ? partition.queue : pipeline.name;
  const held = paused.includes('*') ? 'every stage' : stages.filter((stage) => paused.includes(stage)).join(', ');
  // Paused, later is no better: the queue waits for its resume, and so does the advice.
  const then = held === '' ? `; ${advice}.` : `. The queue is paused (${held}), so it does not drain until it is resumed (POST /queues/${queue}/resume); then ${advice}.`;
  return new ProblemError(
    'queue-full',
    `${what} holds ${backlog} undone jobs, waiting or running in ${where}, delayed or waiting to retry (${of}). Nothing was written${then}`,
    { backlog, limit },
    { 'retry-after': '5' },
  );
}
