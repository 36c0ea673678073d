import { cancelJob, controlChannel, enqueueJobs, findPipeline, firstStage, modelCatalogue, newJobId, PIPELINES, queueOfJobId, QueueKeys, readJob, retryDeadJob, type ApiConfig, type DocumentPayload, type EnqueueLimits, type JobOptions, type Lane, type ModelEntry, type NewJob, type Pipeline, type RedisClient } from '@conveyor/shared';
import { createHash } from 'node:crypto';
import { ProblemError } from '../problems/problem-error.js';
import { queueFull } from '../problems/queue-full.js';
import { outcomeUnknown, submissionOutcomeUnknown } from '../problems/redis-errors.js';
import type { CreateJobBody } from '../schemas/create-job.js';
import type { JobStatus, JobView } from '../schemas/job-view.js';
import { EnqueueCoalescer } from './enqueue-coalescer.js';
import { jobView } from './job-view.js';

export interface Submitted {
  jobId: string;
  status: JobStatus;
  /** False when an idempotency key matched an earlier request: nothing new was created. */
  created: boolean;
}

export interface UploadedDocument {
  bytes: Buffer;
  filename: string;
  contentType: string;
  pipeline: string;
  priority: Lane;
  metadata?: Record<string, string>;
  options: JobOptions;
}

const IDEMPOTENCY_TTL_SECONDS = 86_400;

/** Submits and reads jobs. Routes stay thin; this is where requests become scripts. */
export class JobService {
  readonly #keys = new Map<string, QueueKeys>();
  readonly models: ModelEntry[];
  readonly #modelNames: ReadonlySet<string>;
  readonly #limits: EnqueueLimits;
  readonly #coalescer: EnqueueCoalescer;

  constructor(
    private readonly redis: RedisClient,
    private readonly config: ApiConfig,
    /** Told how many jobs each successful submission created. */
    private readonly onEnqueued: (queue: string, count: number) => void = () => {},
  ) {
    this.models = modelCatalogue(config);
    this.#modelNames = new Set(this.models.map((model) => model.name));
    this.#limits = { idempotencyTtlSeconds: IDEMPOTENCY_TTL_SECONDS, maxBacklog: config.MAX_BACKLOG };
    this.#coalescer = new EnqueueCoalescer(redis, this.#limits);
  }

  keysOf(queue: string): QueueKeys {
    let keys = this.#keys.get(queue);
    if (!keys) this.#keys.set(queue, (keys = new QueueKeys(this.config.KEY_PREFIX, queue)));
    return keys;
  }

  async submitInference(body: CreateJobBody, idempotencyKey: string | undefined): Promise<Submitted> {
    const pipeline = this.#pipeline(body.queue, 'json');
    const job = this.#inferenceJob(body, idempotencyKey);
    if (idempotencyKey !== undefined) return (await this.#submit(pipeline, [job]))[0]!;
    // Without a key, a job shares its script call with the others submitted in the same turn.
    const stage = firstStage(pipeline);
    const outcome = await this.#coalescer.enqueue(this.keysOf(pipeline.name), stage, job).catch((error: unknown) => lookBeforeSendingAgain(error, [job]));
    if (!outcome.ok) throw queueFull(pipeline.name, stage, outcome.backlog, outcome.limit);
    this.onEnqueued(pipeline.name, 1);
    return { jobId: job.id, status: statusOfNew(job, Date.now()), created: true };
  }

  /** Up to 1,000 jobs for one queue in one script call: all are accepted, or none. */
  async submitBatch(bodies: readonly (CreateJobBody & { idempotency_key?: string | undefined })[]): Promise<Submitted[]> {
    const queues = new Set(bodies.map((body) => body.queue));
    if (queues.size > 1) {
      throw new ProblemError('invalid-request', `A batch goes to one queue; this one names ${[...queues].map((q) => `"${q}"`).join(', ')}. Send one batch per queue.`);
    }
    const pipeline = this.#pipeline(bodies[0]!.queue, 'json');
    return this.#submit(
      pipeline,
      bodies.map((body) => {
        if (body.idempotency_key === undefined) return this.#inferenceJob(body, undefined);
        const { idempotency_key, ...rest } = body;
        return this.#inferenceJob(rest, idempotency_key);
      }),
    );
  }

  #inferenceJob(body: CreateJobBody, idempotencyKey: string | undefined): NewJob {
    if (!this.#modelNames.has(body.model)) {
      const known = [...this.#modelNames];
      throw new ProblemError('unknown-model', `Model "${body.model}" is not known. Known models: ${known.join(', ')}.`, { known_models: known });
    }
    const { priority, queue, max_attempts, timeout_ms, backoff, run_at, delay_ms } = body;
    const job: NewJob = {
      id: newJobId(queue),
      lane: priority,
      payload: JSON.stringify(payloadOf(body)),
      runAt: run_at !== undefined ? Date.parse(run_at) : delay_ms !== undefined ? Date.now() + delay_ms : undefined,
    };
    if (max_attempts !== undefined || timeout_ms !== undefined || backoff !== undefined) job.options = definedOnly({ max_attempts, timeout_ms, backoff });
    if (idempotencyKey !== undefined) {
      job.idempotencyKey = idempotencyKey;
      job.fingerprint = digest(['POST /jobs', JSON.stringify(body)]);
    }
    return job;
  }

  async submitDocument(upload: UploadedDocument, idempotencyKey: string | undefined): Promise<Submitted> {
    const pipeline = this.#pipeline(upload.pipeline, 'document');
    const sha256 = createHash('sha256').update(upload.bytes).digest('hex');
    const payload: DocumentPayload = { filename: upload.filename, content_type: upload.contentType, size: upload.bytes.length, sha256 };
    if (upload.metadata) payload.metadata = upload.metadata;
    const job: NewJob = {
      id: newJobId(pipeline.name),
      lane: upload.priority,
      payload: JSON.stringify(payload),
      options: upload.options,
      document: upload.bytes,
    };
    if (idempotencyKey !== undefined) {
      job.idempotencyKey = idempotencyKey;
      job.fingerprint = digest(['POST /documents', sha256, JSON.stringify({ ...upload, bytes: undefined })]);
    }
    const [submitted] = await this.#submit(pipeline, [job]);
    return submitted!;
  }

  async find(jobId: string): Promise<JobView | undefined> {
    const pipeline = pipelineOfJob(jobId);
    if (!pipeline) return undefined;
    const snapshot = await readJob(this.redis, this.keysOf(pipeline.name), jobId, firstStage(pipeline));
    return snapshot && jobView(jobId, snapshot, pipeline, pipeline.maxAttempts ?? this.config.MAX_ATTEMPTS);
  }

  /** A finished stage's whole output, as stored (JSON text). */
  async stageOutput(jobId: string, stage: string): Promise<string> {
    const pipeline = pipelineOfJob(jobId);
    if (!pipeline) throw notFound(jobId);
    if (!pipeline.stages.includes(stage)) {
      throw new ProblemError('output-not-found', `Queue "${pipeline.name}" has no stage "${stage}"; its stages: ${pipeline.stages.join(', ')}.`);
    }
    const last = pipeline.stages[pipeline.stages.length - 1] === stage;
    const keys = this.keysOf(pipeline.name);
    const [output, status] = await this.redis.hmget(keys.job(jobId), last ? 'result' : `out:${stage}`, 'status');
    if (typeof output === 'string') return output;
    if (status === null && !(await this.find(jobId))) throw notFound(jobId);
    throw new ProblemError('output-not-found', `Stage "${stage}" of job "${jobId}" has no output yet. GET /jobs/${jobId} shows where the job is.`);
  }

  /** Cancels a job that has not finished; throws the problem a client should see otherwise. */
  async cancel(jobId: string): Promise<void> {
    const pipeline = pipelineOfJob(jobId);
    if (!pipeline) throw notFound(jobId);
    const outcome = await cancelJob(this.redis, this.keysOf(pipeline.name), jobId, firstStage(pipeline), retentionSeconds(this.config), controlChannel(this.config.KEY_PREFIX));
    if (outcome.ok) return;
    if (outcome.reason === 'not-found') throw notFound(jobId);
    throw new ProblemError('job-finished', `Job "${jobId}" is ${outcome.status}; only a job that has not finished can be cancelled.`, { job_status: outcome.status });
  }

  /** Queues a dead-lettered job again, with the same ID. */
  async retry(jobId: string): Promise<void> {
    const pipeline = pipelineOfJob(jobId);
    if (!pipeline) throw notFound(jobId);
    const outcome = await retryDeadJob(this.redis, this.keysOf(pipeline.name), jobId);
    if (outcome.ok) return;
    if (outcome.reason === 'not-found') throw notFound(jobId);
    throw new ProblemError('job-not-dead', `Job "${jobId}" is ${outcome.status}, not dead; only a dead-lettered job can be retried.`, { job_status: outcome.status });
  }

  /** The keys of a queue that exists, or the 404 problem. */
  queueKeys(name: string): QueueKeys {
    return this.keysOf(this.pipelineOf(name).name);
  }

  /** The pipeline of a queue that exists, or the 404 problem. */
  pipelineOf(name: string): Pipeline {
    const pipeline = findPipeline(name);
    if (!pipeline) throw new ProblemError('queue-not-found', `There is no queue "${name}". Queues: ${PIPELINES.map((p) => p.name).join(', ')}.`);
    return pipeline;
  }

  async #submit(pipeline: Pipeline, jobs: NewJob[]): Promise<Submitted[]> {
    const outcome = await enqueueJobs(this.redis, this.keysOf(pipeline.name), firstStage(pipeline), jobs, this.#limits).catch((error: unknown) => lookBeforeSendingAgain(error, jobs));
    if (!outcome.ok) {
      if (outcome.reason === 'idempotency-conflict') {
        const key = jobs[outcome.index]!.idempotencyKey;
        const which = jobs.length > 1 ? ` (job ${outcome.index} of the batch)` : '';
        throw new ProblemError('idempotency-key-reused', `Idempotency key "${key}"${which} was already used within the last 24 hours for a different request. Use a new key for a new request.`);
      }
      throw queueFull(pipeline.name, firstStage(pipeline), outcome.backlog, outcome.limit);
    }
    const created = outcome.jobs.filter((job) => job.created).length;
    if (created > 0) this.onEnqueued(pipeline.name, created);
    const now = Date.now();
    return Promise.all(
      outcome.jobs.map(async ({ id, created: isNew }, i) => {
        if (isNew) return { jobId: id, status: statusOfNew(jobs[i]!, now), created: true };
        return { jobId: id, status: (await this.find(id))?.status ?? ('completed' as const), created: false };
      }),
    );
  }

  #pipeline(name: string, input: Pipeline['input']): Pipeline {
    const pipeline = findPipeline(name);
    if (!pipeline || pipeline.input !== input) {
      const fitting = PIPELINES.filter((candidate) => candidate.input === input).map((candidate) => candidate.name).join(', ');
      throw new ProblemError('invalid-request', `Queue "${name}" does not take ${input === 'json' ? 'JSON jobs' : 'documents'}; these do: ${fitting}.`, {
        errors: [{ path: input === 'json' ? 'body.queue' : 'body.pipeline', message: `unknown ${input === 'json' ? 'queue' : 'pipeline'} "${name}"` }],
      });
    }
    return pipeline;
  }
}

function pipelineOfJob(jobId: string): Pipeline | undefined {
  const queue = queueOfJobId(jobId);
  return queue === undefined ? undefined : findPipeline(queue);
}

/** A new job is delayed while its run_at lies ahead, queued otherwise. */
function statusOfNew(job: NewJob, now: number): 'queued' | 'delayed' {
  return job.runAt !== undefined && job.runAt > now ? 'delayed' : 'queued';
}

function notFound(jobId: string): ProblemError {
  return new ProblemError('job-not-found', `No job has the ID "${jobId}". It never existed, or it finished more than JOB_RETENTION ago and expired.`);
}

function retentionSeconds(config: ApiConfig): number {
  return Math.ceil(config.JOB_RETENTION / 1_000);
}

/** Fields of a job request that are about the job, not the work: everything else is its payload. */
const JOB_FIELDS = new Set(['priority', 'queue', 'max_attempts', 'timeout_ms', 'backoff', 'run_at', 'delay_ms', 'idempotency_key']);

/** The request without its job fields (a loop: object rest is slow on the batch path, 1,000 per request). */
function payloadOf(body: Record<string, unknown>): Record<string, unknown> {
  const payload: Record<string, unknown> = {};
  for (const key in body) if (!JOB_FIELDS.has(key)) payload[key] = body[key];
  return payload;
}

function definedOnly<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function digest(parts: string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('base64url');
}

/**
 * An enqueue that Redis may or may not have run (sent, then no answer): jobs without idempotency
 * keys are answered with their IDs, to be looked up before they are sent again. Jobs with keys
 * are safe to send again as they were, which the general answer says.
 */
function lookBeforeSendingAgain(error: unknown, jobs: readonly NewJob[]): never {
  if (outcomeUnknown(error) && jobs.every((job) => job.idempotencyKey === undefined)) {
    throw submissionOutcomeUnknown(error as Error, jobs.map((job) => job.id));
  }
  throw error;
}
