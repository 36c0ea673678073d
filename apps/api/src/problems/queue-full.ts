import { ProblemError } from './problem-error.js';

/** The 503 for a queue that holds more undone jobs than MAX_BACKLOG allows (its first stage's, delayed and retrying ones). */
export function queueFull(queue: string, stage: string, backlog: number, limit: number, advice = 'try again later'): ProblemError {
  return new ProblemError(
    'queue-full',
    `Queue "${queue}" holds ${backlog} undone jobs, waiting or running in stage "${stage}", delayed or waiting to retry (limit ${limit}). Nothing was written; ${advice}.`,
    { backlog, limit },
    { 'retry-after': '5' },
  );
}
