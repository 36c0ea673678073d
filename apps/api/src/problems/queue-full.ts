import { ProblemError } from './problem-error.js';

/** The 503 for a queue that holds more undone jobs than MAX_BACKLOG allows (its stages' waiting and running ones, delayed and retrying ones). */
export function queueFull(queue: string, stages: readonly string[], backlog: number, limit: number, advice = 'try again later'): ProblemError {
  const where = stages.length === 1 ? `stage "${stages[0]}"` : `its stages (${stages.join(', ')})`;
  return new ProblemError(
    'queue-full',
    `Queue "${queue}" holds ${backlog} undone jobs, waiting or running in ${where}, delayed or waiting to retry (limit ${limit}). Nothing was written; ${advice}.`,
    { backlog, limit },
    { 'retry-after': '5' },
  );
}
