import type { Pipeline } from '@conveyor/shared';
import { ProblemError } from './problem-error.js';

/**
 * The 503 for a queue, or one of its partitions (`pipeline`), that holds more undone jobs than
 * MAX_BACKLOG allows (its stages' waiting and running ones, delayed and retrying ones).
 */
export function queueFull(pipeline: Pipeline, backlog: number, limit: number, advice = 'try again later'): ProblemError {
  const { stages, partition } = pipeline;
  const where = stages.length === 1 ? `stage "${stages[0]}"` : `its stages (${stages.join(', ')})`;
  // Clients name queues, not partitions: a partition is told as one, with its share of the limit.
  const what = partition ? `Partition ${partition.index} of queue "${partition.queue}"` : `Queue "${pipeline.name}"`;
  const of = partition ? `limit ${limit}, its share of MAX_BACKLOG` : `limit ${limit}`;
  return new ProblemError(
    'queue-full',
    `${what} holds ${backlog} undone jobs, waiting or running in ${where}, delayed or waiting to retry (${of}). Nothing was written; ${advice}.`,
    { backlog, limit },
    { 'retry-after': '5' },
  );
}
