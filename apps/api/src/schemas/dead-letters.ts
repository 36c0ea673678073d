import { LANES } from '@conveyor/shared';
import { z } from 'zod';
import { MAX_SHOWN_DEPTH } from '../services/json-depth.js';
import { pathSegment } from './create-job.js';
import { decimalIntegerOr } from './decimal-integer.js';
import { isEntryId } from './history.js';
import { attemptErrorSchema } from './job-view.js';
import { emptyBody } from './empty-body.js';
import { onlyParameters } from './query-parameters.js';

export const queueParamsSchema = z.object({ name: pathSegment.describe('queue name, e.g. inference') });

/** Strict: a typo (`?Limit=5`, `?limit[]=5`) would give a default page with no word of it. */
export const deadListQuerySchema = onlyParameters({
  limit: decimalIntegerOr(50, 1, 500).describe('most jobs per page: a page stops early, with a next_cursor, once its stored entries pass about 4 MiB (large inputs)'),
  cursor: z
    .string()
    .refine((value) => isEntryId(value.replace(/~\d{1,2}$/, '')), 'must be the next_cursor of the previous page')
    .optional()
    .describe('next_cursor from the previous page'),
});

export const deadJobSchema = z.object({
  job_id: z.string(),
  stage: z.string(),
  priority: z.enum(LANES).nullable().describe('the lane the job was in; null when the entry names no lane Conveyor has (another producer wrote it)'),
  attempts: z.number().int().nullable().describe('attempts of the stage it died on; null when the entry holds no whole number (another producer wrote it)'),
  error: attemptErrorSchema.nullable(),
  errors: z.array(attemptErrorSchema),
  input: z.unknown().describe(`the job as submitted (a preview when large; see input_truncated); JSON nested deeper than ${MAX_SHOWN_DEPTH} levels is shown as its text`),
  input_truncated: z.boolean().describe('true when `input` is a preview, as a large output is shown (long strings and arrays cut); GET /jobs/{id} shows it whole'),
  created_at: z.string().nullable().describe('ISO 8601, UTC; null when the entry holds no time a date can show'),
  dead_at: z.string().nullable().describe('ISO 8601, UTC; null when the entry holds no time a date can show'),
});

export const deadListSchema = z.object({
  jobs: z.array(deadJobSchema).describe('newest first'),
  next_cursor: z.string().nullable().describe('pass as `cursor` for the next page; null on the last page'),
});

/** A parameter the retry does not take is refused rather than ignored: `?Limit=5` would retry up to 1,000. */
export const retryAllQuerySchema = onlyParameters({
  limit: decimalIntegerOr(1_000, 1, 10_000).describe('most dead jobs to retry in this call (oldest first)'),
});

/**
 * The retry takes its options in the query string. A JSON body is taken only when it is empty,
 * null or {}: `{"limit":5}` is refused rather than ignored, which would retry up to 1,000.
 */
export const retryAllBodySchema = emptyBody(': pass them in the query string, e.g. ?limit=100').describe('none: options go in the query string');

export const retryAllSchema = z.object({
  retried: z.number().int(),
  skipped: z.array(z.object({ job_id: z.string(), reason: z.string() })).describe('dead entries that could not be retried, and why'),
  remaining: z.number().int().describe('dead entries still in the dead stream after this call'),
  queue_full: z
    .object({ backlog: z.number().int(), limit: z.number().int() })
    .optional()
    .describe('present when the queue (or one of its partitions) reached MAX_BACKLOG during the call: its other dead jobs stay dead; call again once workers have made room'),
});
