import { LANES } from '@conveyor/shared';
import { z } from 'zod';
import { MAX_SHOWN_DEPTH } from '../services/json-depth.js';

export const JOB_STATUSES = ['queued', 'delayed', 'active', 'retrying', 'completed', 'dead', 'cancelled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

const timestamp = z.string().nullable().describe('ISO 8601, UTC; null when there is none, or none a date can show (an entry ID another producer chose past the year 275760)');

export const attemptErrorSchema = z
  .object({
    message: z.string(),
    name: z.string().optional(),
    code: z.string().optional(),
    retryable: z.boolean().optional(),
    stage: z.string().optional(),
    attempt: z.number().optional(),
    at: z.string().optional().describe('ISO 8601, UTC'),
    worker: z.string().optional(),
  })
  .describe('an attempt\'s error');

export const stageViewSchema = z.object({
  name: z.string(),
  status: z.enum(['pending', ...JOB_STATUSES]),
  attempts: z.number().int(),
  worker: z.string().nullable().describe("the consumer that ran the stage's latest attempt; null until a worker takes it, and while it waits to run again (released, retrying)"),
  started_at: timestamp,
  finished_at: timestamp,
  output: z.unknown().describe('the stage\'s output once it is done (a preview when large; see output_truncated)'),
  output_truncated: z.boolean().describe('true when `output` is a preview: long strings and arrays are cut, and an output over 64 KiB is previewed from its beginning (output_url has it whole)'),
  output_url: z.string().nullable().describe('GET it for the whole output'),
});

export const jobViewSchema = z
  .object({
    id: z.string().describe('`<queue>:<ULID>` (`<queue>.<partition>:<ULID>` on a partitioned queue), or, for jobs XADDed by other producers, `<queue>:<entry ID>` (first stage, normal lane) or `<queue>[:<stage>]:<lane>:<entry ID>` (`inference:high:1795425151333-0`)'),
    queue: z.string(),
    partition: z.number().int().optional().describe('on a partitioned queue (QUEUE_PARTITIONS), the partition that holds the job'),
    status: z.enum(JOB_STATUSES),
    stage: z.string().describe('the current stage (the last one once the job is done)'),
    priority: z.enum(LANES),
    attempts: z.number().int().describe('attempts of the current stage so far (each delivery to a worker)'),
    max_attempts: z.number().int().describe('failed attempts of a stage before the job is dead-lettered'),
    stalls: z.number().int().describe('attempts of the current stage whose worker stopped before finishing (lease lapsed); limited by MAX_STALLS'),
    worker: z.string().nullable().describe("the consumer that ran the current stage's latest attempt; null until a worker takes the stage, and while it waits to run again (released, retrying)"),
    progress: z
      .object({ percent: z.number().int(), message: z.string() })
      .nullable()
      .describe("the running attempt's last reported progress; null while no attempt runs (queued, finished, waiting to retry)"),
    input: z.unknown().describe(`the job as submitted (for documents: file name, type and size); JSON nested deeper than ${MAX_SHOWN_DEPTH} levels (another producer wrote it) is shown as its text`),
    result: z.unknown().describe('the last stage\'s output once completed, else null (a preview when large)'),
    result_truncated: z.boolean().describe('true when `result` is a preview; the last stage\'s output_url has it whole'),
    error: attemptErrorSchema.nullable().describe('the latest error, if any'),
    errors: z.array(attemptErrorSchema).describe('every attempt\'s error, oldest first (the newest 20)'),
    stages: z.array(stageViewSchema),
    created_at: timestamp,
    started_at: timestamp.describe('when the latest attempt started'),
    finished_at: timestamp,
    updated_at: timestamp,
    retry_at: timestamp.describe('when a retrying or delayed job is due'),
  })
  .describe('A job and its outcome');
export type JobView = z.output<typeof jobViewSchema>;

export const acceptedJobSchema = z.object({
  job_id: z.string(),
  status: z.enum(JOB_STATUSES),
});

export const acceptedBatchSchema = z.object({
  jobs: z
    .array(acceptedJobSchema.extend({ created: z.boolean().describe('false when an idempotency key matched an earlier job') }))
    .describe('in the order of the request'),
});
