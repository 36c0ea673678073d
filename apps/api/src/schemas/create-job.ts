import { inferencePayloadSchema, jobMetadataSchema, jobOptionsSchema, LANES, paramsFault } from '@conveyor/shared';
import { z } from 'zod';
import { ROUTER_OPTIONS } from '../router-options.js';
import { PresentKeysParser } from './present-keys.js';
import { MAX_DELAY_MS, runAtSchema } from './run-at.js';


/**
 * Most `metadata` fields a job may carry. Counted before each field is checked: a body with
 * 90,000 bad fields (or a batch of 1,000 jobs with 1,000 each) would otherwise make a validation
 * issue of each, seconds of CPU and a problem larger than the request.
 */
export const MAX_METADATA_FIELDS = 100;

const metadata = z
  .unknown()
  .superRefine((value, ctx) => {
    if (typeof value === 'object' && value !== null && Object.keys(value).length > MAX_METADATA_FIELDS) {
      ctx.addIssue({ code: 'custom', message: `may hold at most ${MAX_METADATA_FIELDS} fields`, abort: true });
    }
  })
  // The object alone: the payload schema also reads JSON text, for jobs other producers XADD.
  .pipe(jobMetadataSchema)
  // The OpenAPI document shows the input side of a pipe, here `unknown`: say what is taken.
  .meta({ ...z.toJSONSchema(jobMetadataSchema), maxProperties: MAX_METADATA_FIELDS })
  .optional()
  .describe(inferencePayloadSchema.shape.metadata.description ?? '');

/**
 * `params` as the API takes it: a JSON object, as the OpenAPI document says. The shared schema
 * also reads a string of JSON there, for jobs other producers XADD as plain stream fields; here
 * that made `"params": "5"` "not a number" when a string was sent.
 */
const params = z
  .record(z.string(), z.unknown())
  .superRefine((value, ctx) => {
    const fault = paramsFault(value);
    if (fault) ctx.addIssue({ code: 'custom', message: fault.message, path: fault.path ?? [] });
  })
  .optional()
  .describe(inferencePayloadSchema.shape.params.description ?? '');

const KEY_RULE = 'must be 1 to 255 visible ASCII characters (no spaces)';

/**
 * An idempotency key; `wording` says what is wrong with one it refuses. One rule, so one message,
 * whichever part of it a key breaks (an empty one broke two, and was told twice).
 */
const idempotencyKeyWith = (wording: (input: string) => string) =>
  z.string().regex(/^[\x21-\x7e]{1,255}$/, { error: (issue) => wording(String(issue.input)) });

const idempotencyKey = idempotencyKeyWith(() => KEY_RULE);

/** The header: Node joins the values of one sent twice with ", ", which a key cannot hold. */
const idempotencyKeyHeader = idempotencyKeyWith((input) =>
  input.includes(', ') ? `${KEY_RULE}; this one looks like several Idempotency-Key headers, which arrive joined by ", ": send one` : KEY_RULE,
);

const jobFields = {
  ...inferencePayloadSchema.shape,
  params,
  metadata,
  user_id: z.string().min(1).max(200).optional().describe('who asked, e.g. "12345"; kept with the job'),
  priority: z.enum(LANES).default('normal').describe('lane: high jobs are taken before normal, normal before low'),
  queue: z.string().max(100).default('inference').describe('a queue that takes JSON jobs'),
  ...jobOptionsSchema.shape,
  // As far ahead as delay_ms may reach: a job parked for years would count toward MAX_BACKLOG all that time.
  run_at: runAtSchema
    .optional()
    .describe('run no earlier than this time (ISO 8601, with Z or an offset; at most 30 days ahead); not together with delay_ms (a 400)'),
  delay_ms: z.number().int().min(0).max(MAX_DELAY_MS).optional().describe('run no earlier than this many ms from now (at most 30 days); not together with run_at (a 400)'),
};

const oneStart = {
  check: (body: { run_at?: string | undefined; delay_ms?: number | undefined }) => body.run_at === undefined || body.delay_ms === undefined,
  message: { message: 'give run_at or delay_ms, not both', path: ['delay_ms'] },
};

/** A job's rules that span its fields, on a strict object of them. */
function withOneStart<T extends z.ZodObject>(job: T): T {
  return job.refine((body) => oneStart.check(body as Parameters<typeof oneStart.check>[0]), oneStart.message);
}

const jobObject = z.object(jobFields).strict();

/** Body of `POST /jobs`: the inference request, where it goes, and how it is retried. */
export const createJobSchema = withOneStart(jobObject).describe('An inference request');
export type CreateJobBody = z.output<typeof createJobSchema>;

/** The object-level rules for a job picked down to some of its fields: oneStart can only fail when both of its fields are there. */
function pickedRules(picked: z.ZodObject): z.ZodObject {
  return 'run_at' in picked.shape && 'delay_ms' in picked.shape ? withOneStart(picked) : picked;
}

/** POST /jobs bodies, parsed by the fields they set (see PresentKeysParser). */
export const jobBodyParser = new PresentKeysParser(jobObject, pickedRules);

export const MAX_BATCH_JOBS = 1_000;

const batchJobObject = z
  .object({
    ...jobFields,
    idempotency_key: idempotencyKey.optional().describe('like the Idempotency-Key header, for this job'),
  })
  .strict();
const batchJob = withOneStart(batchJobObject);

/** A batch of up to 1,000 of `job`, and nothing else. */
function batchOf<T extends z.ZodType>(job: T) {
  return z.object({ jobs: z.array(job).min(1).max(MAX_BATCH_JOBS) }).strict();
}

/** Body of `POST /jobs/batch`: up to 1,000 jobs for one queue, each as `POST /jobs` takes it. */
export const createBatchSchema = batchOf(batchJob).describe(
  'Up to 1,000 inference requests, all for the same queue; all are accepted or none. On a partitioned queue (QUEUE_PARTITIONS), jobs with idempotency keys go to their keys\' partitions, each all or none: a refused one lists what the others stored (stored_job_ids), and the same batch sent again stores each job once',
);
export type CreateBatchBody = z.output<typeof createBatchSchema>;

const batchEnvelope = batchOf(z.unknown());
const batchJobParser = new PresentKeysParser(batchJobObject, pickedRules);

/**
 * Most issues a refused batch is checked for. A problem lists 20 and counts the rest; past this
 * many the count stops too: a batch of 1,000 jobs, each wrong in 100 ways, made 100,000 issues
 * and kept the API busy for a second (a thousand take a few milliseconds).
 */
const MAX_CHECKED_ISSUES = 1_000;

/**
 * createBatchSchema's check of a batch that tryParseBatch could not take, job by job, stopping
 * after the job that takes it past MAX_CHECKED_ISSUES, with an issue saying so.
 */
export const checkedBatchSchema = batchEnvelope.transform((batch, ctx) => {
  const jobs: unknown[] = [];
  let issues = 0;
  for (const [index, job] of batch.jobs.entries()) {
    const parsed = batchJob.safeParse(job);
    if (parsed.success) {
      jobs.push(parsed.data);
      continue;
    }
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: ['jobs', index, ...issue.path] });
    issues += parsed.error.issues.length;
    if (issues > MAX_CHECKED_ISSUES && index < batch.jobs.length - 1) {
      ctx.addIssue({ code: 'custom', path: ['jobs'], message: `the jobs after jobs.${index} were not checked` });
      return z.NEVER;
    }
  }
  return issues > 0 ? z.NEVER : ({ jobs } as CreateBatchBody);
});

/**
 * A POST /jobs/batch body as createBatchSchema parses it, its jobs parsed by the fields they set
 * (see PresentKeysParser); undefined when createBatchSchema must parse it.
 */
export function tryParseBatch(value: unknown): CreateBatchBody | undefined {
  const envelope = batchEnvelope.safeParse(value);
  if (!envelope.success) return undefined;
  const jobs: unknown[] = [];
  for (const job of envelope.data.jobs) {
    const parsed = batchJobParser.tryParse(job);
    if (parsed === undefined) return undefined;
    jobs.push(parsed);
  }
  return { jobs } as CreateBatchBody;
}

export const idempotencyHeadersSchema = z.object({
  'idempotency-key': idempotencyKeyHeader.optional().describe('the same key within 24 h returns the same job, while it exists, instead of creating another'),
});

/** A path segment the router takes: longer ones are refused with a 414 before any route runs. */
export const pathSegment = z.string().min(1).max(ROUTER_OPTIONS.maxParamLength);

export const jobIdParamsSchema = z.object({
  id: pathSegment.describe('job ID, e.g. inference:01JDQ8K3V7X9...'),
});
