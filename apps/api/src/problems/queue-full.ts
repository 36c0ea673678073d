import { ProblemError } from './problem-error.js';

/** The 503 for a queue whose first stage holds more undone jobs than MAX_BACKLOG allows. */
export function queueFull(queue: string, stage: string, backlog: number, limit: number, advice = 'try again later'): ProblemError {
  return new ProblemError(
    'queue-full',
    `Queue "${queue}" holds ${backlog} undone jobs in stage "${stage}" (limit ${limit}). Nothing was written; ${advice}.`,
    { backlog, limit },
    { 'retry-after': '5' },
  );
}
