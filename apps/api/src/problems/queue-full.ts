import type { Pipeline, QueueKeys, RedisClient } from '@conveyor/shared';
import { ProblemError } from './problem-error.js';

/**
 * The 503 for a queue, or one of its partitions (`pipeline`, its keys `keys`), that holds more
 * undone jobs than MAX_BACKLOG allows (its stages' waiting and running ones, delayed and retrying
 * ones), as the enqueue script counted them (`full`). A paused queue does not drain, and "try
 * again later" alone would have its clients wait for ever: the detail says so (whenItDrains).
 */
export async function queueFull(redis: RedisClient, keys: QueueKeys, pipeline: Pipeline, { backlog, limit }: { backlog: number; limit: number }, advice = 'try again later'): Promise<ProblemError> {
  const { stages, partition } = pipeline;
  const where = stages.length === 1 ? `stage "${stages[0]}"` : `its stages (${stages.join(', ')})`;
  // Clients name queues, not partitions: a partition is told as one, with its share of the limit.
  const what = partition ? `Partition ${partition.index} of queue "${partition.queue}"` : `Queue "${pipeline.name}"`;
  const of = partition ? `limit ${limit}, its share of MAX_BACKLOG` : `limit ${limit}`;
  return new ProblemError(
    'queue-full',
    `${what} holds ${backlog} undone jobs, waiting or running in ${where}, delayed or waiting to retry (${of}). Nothing was written${await whenItDrains(redis, keys, pipeline, advice)}`,
    { backlog, limit },
    { 'retry-after': '5' },
  );
}

/**
 * The end of a queue-full problem's detail: `; <advice>.`, or, while the queue (or partition,
 * keys `keys`) has a paused stage, that it does not drain until it is resumed, then the advice.
 * Its paused stages are read only for this answer.
 */
export async function whenItDrains(redis: RedisClient, keys: QueueKeys, pipeline: Pipeline, advice: string): Promise<string> {
  const paused = await redis.hkeys(keys.paused).catch((): string[] => []);
  const held = paused.includes('*') ? 'every stage' : pipeline.stages.filter((stage) => paused.includes(stage)).join(', ');
  const queue = pipeline.partition ? pipeline.partition.queue : pipeline.name;
  // Paused, later is no better: the queue waits for its resume, and so does the advice.
  return held === '' ? `; ${advice}.` : `. The queue is paused (${held}), so it does not drain until it is resumed (POST /queues/${queue}/resume); then ${advice}.`;
}
