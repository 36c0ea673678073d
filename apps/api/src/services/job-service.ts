import { cancelJob, checkModelInput, controlChannel, enqueueJobs, findPipeline, firstStage, modelCatalogue, ModelInputError, newJobId, outcomeUnknown, queueNameOf, queueOfJobId, QueueKeys, readJob, retryDeadJob, type ApiConfig, type ControlMessage, type DocumentPayload, type EnqueueLimits, type JobOptions, type Lane, type ModelEntry, type ModelKind, type NewJob, type Pipeline, type RedisClient } from '@conveyor/shared';
import { createHash } from 'node:crypto';
import { ProblemError } from '../problems/problem-error.js';
import { queueFull, whenItDrains } from '../problems/queue-full.js';
import { submissionOutcomeUnknown } from '../problems/redis-errors.js';
import { invalidRequest, type ValidationError } from '../problems/validation-wording.js';
import type { CreateJobBody } from '../schemas/create-job.js';
import type { JobStatus, JobView } from '../schemas/job-view.js';
import { zonedTimeMs } from '../schemas/zoned-time.js';
import { EnqueueCoalescer } from './enqueue-coalescer.js';
import { errorView, json, jobView } from './job-view.js';
import { LONGEST_READ_WHOLE } from './output-preview.js';
import { PartitionPicker } from './partition-picker.js';
import { QueueDirectory } from './queue-directory.js';

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

/**
 * Submissions of at least this many bytes (payloads and documents) go on the large-value
 * connection, as do reads of whole outputs: on the other, every small job's command would wait
 * behind their bytes in the socket, and fail its one-second timeout.
 */
const LARGE_VALUE_BYTES = 1024 * 1024;

/** Submits and reads jobs. Routes stay thin; this is where requests become scripts. */
export class JobService {
  readonly #keys = new Map<string, QueueKeys>();
  readonly models: ModelEntry[];
  readonly #modelsByName: ReadonlyMap<string, ModelEntry>;
  readonly #limits = new Map<string, EnqueueLimits>();
  /** Per queue, the due time (ms) of the last delayed job the workers were told of. */
  readonly #announced = new Map<string, number>();
  readonly #coalescer: EnqueueCoalescer;
  readonly #partitions: PartitionPicker;
  readonly queues: QueueDirectory;

  constructor(
    private readonly redis: RedisClient,
    /** For documents, large batches and whole outputs, with a longer command timeout (see LARGE_VALUE_BYTES). */
    private readonly largeValueRedis: RedisClient,
    private readonly config: ApiConfig,
    /** Told how many jobs each successful submission created, and each retry of a dead job. */
    private readonly onEnqueued: (queue: string, count: number) => void = () => {},
  ) {
    this.models = modelCatalogue(config);
    this.#modelsByName = new Map(this.models.map((model) => [model.name, model]));
    this.#partitions = new PartitionPicker(config.QUEUE_PARTITIONS);
    this.queues = new QueueDirectory(config.QUEUE_PARTITIONS);
    this.#coalescer = new EnqueueCoalescer(redis);
  }

  keysOf(queue: string): QueueKeys {
    let keys = this.#keys.get(queue);
    if (!keys) this.#keys.set(queue, (keys = new QueueKeys(this.config.KEY_PREFIX, queue)));
    return keys;
  }

  async submitInference(body: CreateJobBody, idempotencyKey: string | undefined): Promise<Submitted> {
    const target = this.#partitions.pick(this.queues.forSubmission(body.queue, 'json'), idempotencyKey);
    const job = this.#inferenceJob(body, idempotencyKey, target);
    if (idempotencyKey !== undefined) return (await this.#submit(target, [job]))[0]!;
    // Without a key, a job shares its script call with the others submitted in the same turn.
    return this.#onPartitionWithRoom(target, [job], async (partition) => {
      const outcome = await this.#coalescer.enqueue(this.keysOf(partition.name), firstStage(partition), job, this.#limitsOf(partition)).catch((error: unknown) => lookBeforeSendingAgain(error, [job]));
      if (!outcome.ok) throw await queueFull(this.redis, this.keysOf(partition.name), partition, outcome);
      this.onEnqueued(queueNameOf(partition), 1);
      if (job.runAt !== undefined) this.#announceDelayed(partition, [job]);
      return { jobId: job.id, status: statusOfNew(job, Date.now()), created: true };
    });
  }

  /**
   * Jobs without keys stored by `store` on `target`, or, while the partition tried holds its share
   * of MAX_BACKLOG, on the next partition of its queue (the jobs' IDs renamed for it): the client
   * named the queue, not the partition. A 503 only when every partition is full.
   */
  async #onPartitionWithRoom<T>(target: Pipeline, jobs: NewJob[], store: (partition: Pipeline) => Promise<T>): Promise<T> {
    let refusal: ProblemError | undefined;
    const held: string[] = [];
    let backlog = 0;
    for (const partition of this.#partitions.fallbacks(target)) {
      if (partition !== target) for (const job of jobs) job.id = newJobId(partition.name);
      try {
        return await store(partition);
      } catch (error) {
        if (!(error instanceof ProblemError && error.slug === 'queue-full')) throw error;
        refusal ??= error;
        const holds = Number(error.extensions['backlog']);
        held.push(`partition ${partition.partition?.index} holds ${holds}`);
        backlog += holds;
      }
    }
    if (target.partition === undefined) throw refusal!;
    const one = jobs.length === 1;
    const then = await whenItDrains(this.redis, this.keysOf(target.name), target, one ? 'try again later' : 'send fewer at once, or try again later');
    throw new ProblemError(
      'queue-full',
      `No partition of queue "${target.partition.queue}" has room for ${one ? 'this job' : `this batch of ${jobs.length} (a batch goes to one partition)`}: each may hold ${this.backlogLimitOf(target)} undone jobs, its share of MAX_BACKLOG (${this.config.MAX_BACKLOG}), waiting, running, delayed or waiting to retry; ${held.join(', ')}. Nothing was written${then}`,
      // The partitions' shares together: each share is rounded up, so they may hold more than MAX_BACKLOG.
      { backlog, limit: this.backlogLimitOf(target) * held.length },
      refusal!.headers,
    );
  }

  /**
   * The 413 for a batch without idempotency keys that is larger than MAX_BACKLOG lets its queue
   * hold undone, or one partition, since such a batch goes to one: it could never be taken, and a
   * 503 with Retry-After would have its client send it again for ever.
   */
  #refuseLargerThanLimit(target: Pipeline, size: number): void {
    const limit = this.backlogLimitOf(target);
    if (limit === 0 || size <= limit) return;
    const where = target.partition
      ? `a partition of queue "${target.partition.queue}" may hold undone (${limit}, its share of MAX_BACKLOG, ${this.config.MAX_BACKLOG}; a batch without idempotency keys goes to one partition)`
      : `queue "${target.name}" may hold undone (MAX_BACKLOG, ${limit})`;
    throw new ProblemError('batch-too-large', `This batch of ${size} jobs is more than ${where}, so it could never be taken. Nothing was written; send it in batches of at most ${limit}.`, {
      limit,
      batch_size: size,
    });
  }

  /**
   * Up to 1,000 jobs for one queue in one script call: all are accepted, or none. On a
   * partitioned queue a batch goes to one partition, except that jobs with idempotency keys go
   * to their keys' partitions: one call per partition, each all or none (see #submitSpread).
   */
  async submitBatch(bodies: readonly (CreateJobBody & { idempotency_key?: string | undefined })[]): Promise<Submitted[]> {
    const queue = bodies[0]!.queue;
    if (bodies.some((body) => body.queue !== queue)) {
      const queues = new Set(bodies.map((body) => body.queue));
      const other = bodies.findIndex((body) => body.queue !== queue);
      throw new ProblemError('invalid-request', `A batch goes to one queue; this one names ${[...queues].map((q) => `"${q}"`).join(', ')}. Send one batch per queue.`, {
        errors: [{ path: `body.jobs.${other}.queue`, message: `is "${bodies[other]!.queue}", where body.jobs.0.queue is "${queue}": a batch goes to one queue` }],
      });
    }
    const pipeline = this.queues.forSubmission(queue, 'json', 'body.jobs.0.queue');
    const batchTarget = this.#partitions.pick(pipeline);
    let keyed = false;
    // Every job its model cannot run is listed (up to MAX_LISTED_ERRORS), as the schema's faults are, not the first alone.
    const faults: ValidationError[] = [];
    const unknownModels: number[] = [];
    const jobs = bodies.map((body, index) => {
      if (!this.#modelsByName.has(body.model)) {
        unknownModels.push(index);
        faults.push({ path: `body.jobs.${index}.model`, message: `names model "${body.model}", which is not known` });
        return undefined;
      }
      try {
        if (body.idempotency_key === undefined) return this.#inferenceJob(body, undefined, batchTarget, index, bodies.length);
        keyed = true;
        const { idempotency_key, ...rest } = body;
        return this.#inferenceJob(rest, idempotency_key, this.#partitions.pick(pipeline, idempotency_key), index, bodies.length);
      } catch (error) {
        if (!(error instanceof ModelInputProblem)) throw error;
        faults.push(...error.faults);
        return undefined;
      }
    });
    if (unknownModels.length > 0) throw this.#unknownModelsIn(bodies, unknownModels, faults);
    if (faults.length > 0) throw new ModelInputProblem(faults);
    // Only a job with a key can go to another partition than the batch's.
    const built = jobs as NewJob[];
    if (!keyed) {
      this.#refuseLargerThanLimit(batchTarget, built.length);
      return this.#onPartitionWithRoom(batchTarget, built, (partition) => this.#submit(partition, built));
    }
    const targets = new Set(built.map((job) => queueOfJobId(job.id)!));
    if (targets.size === 1) return this.#submit(findPipeline([...targets][0]!)!, built);
    return this.#submitSpread(built);
  }

  /**
   * A batch whose keyed jobs hash to several partitions: one enqueue per partition, side by side.
   * If one is refused, the others may have been stored; the problem lists them, and since every
   * job of such a batch that went elsewhere has an idempotency key, sending the whole batch
   * again stores each job once.
   */
  async #submitSpread(jobs: NewJob[]): Promise<Submitted[]> {
    const groups = new Map<string, number[]>();
    jobs.forEach((job, i) => {
      const target = queueOfJobId(job.id)!;
      groups.set(target, [...(groups.get(target) ?? []), i]);
    });
    const outcomes = await Promise.allSettled(
      [...groups].map(async ([target, indexes]) => ({ indexes, submitted: await this.#submit(findPipeline(target)!, indexes.map((i) => jobs[i]!), indexes) })),
    );
    const refusal = outcomes.find((outcome) => outcome.status === 'rejected');
    const submitted: Submitted[] = [];
    for (const outcome of outcomes) if (outcome.status === 'fulfilled') outcome.value.indexes.forEach((index, i) => (submitted[index] = outcome.value.submitted[i]!));
    if (!refusal) return submitted;
    const error = refusal.reason as unknown;
    const stored = submitted.filter(Boolean).map((job) => job.jobId);
    if (stored.length === 0 || !(error instanceof ProblemError)) throw error;
    throw new ProblemError(
      error.slug,
      `${error.detail} This batch was spread over the queue's partitions by its idempotency keys, and ${stored.length} of its jobs were stored on other partitions (stored_job_ids); send the same batch again once this is resolved, and their keys store each job once.`,
      { ...error.extensions, stored_job_ids: stored },
      error.headers,
    );
  }

  /** The model called `name`, or an unknown-model problem (400) that lists the known ones; `which` follows the name in it. */
  modelNamed(name: string, which = ''): ModelEntry {
    const model = this.#modelsByName.get(name);
    if (model) return model;
    throw this.#unknownModelProblem(name, which);
  }

  /**
   * The unknown-model problem for a batch whose jobs at `indexes` name models that are not known;
   * `faults` holds those and every other job's fault, so that one fix mends the whole batch.
   */
  #unknownModelsIn(bodies: readonly CreateJobBody[], indexes: readonly number[], faults: readonly ValidationError[]): ProblemError {
    const first = indexes[0]!;
    const which = bodies.length > 1 ? ` (body.jobs.${first}, counted from 0)` : '';
    const single = this.#unknownModelProblem(bodies[first]!.model, which);
    if (faults.length === 1) return single;
    const others = indexes.length > 1 ? `${indexes.length} jobs name a model that is not known` : '1 job names a model that is not known';
    const rest = faults.length - indexes.length;
    const also = rest === 0 ? '' : `; ${rest === 1 ? '1 other fault' : `${rest} other faults`} of this batch too`;
    // In the batch's order, as they were found.
    const { errors } = invalidRequest(faults);
    const listed = errors.length === faults.length ? 'errors lists them' : `errors lists the first ${errors.length}`;
    return new ProblemError('unknown-model', `${single.detail} In all, ${others}${also}: ${listed}. Nothing was written; fix them all and send the batch again.`, { ...single.extensions, errors });
  }

  #unknownModelProblem(name: string, which: string): ProblemError {
    const known = [...this.#modelsByName.keys()];
    return new ProblemError('unknown-model', `Model "${name}"${which} is not known. Known models: ${known.join(', ')}.`, { known_models: known });
  }

  /** `index`: the job's place in a batch of `batchSize`, named in a refusal (none for POST /jobs). */
  #inferenceJob(body: CreateJobBody, idempotencyKey: string | undefined, target: Pipeline, index?: number, batchSize = 1): NewJob {
    // Refusals name the job only when there is one: a batch's jobs are built by the thousand.
    const model = this.#modelsByName.get(body.model) ?? this.modelNamed(body.model, batchSize > 1 ? ` (body.jobs.${index}, counted from 0)` : '');
    checkRequestForModel(model.kind, body, index);
    const { priority, max_attempts, timeout_ms, backoff, run_at, delay_ms } = body;
    const job: NewJob = {
      id: newJobId(target.name),
      lane: priority,
      payload: JSON.stringify(payloadOf(body)),
      runAt: run_at !== undefined ? zonedTimeMs(run_at) : delay_ms !== undefined ? Date.now() + delay_ms : undefined,
    };
    if (max_attempts !== undefined || timeout_ms !== undefined || backoff !== undefined) job.options = definedOnly({ max_attempts, timeout_ms, backoff });
    if (idempotencyKey !== undefined) {
      job.idempotencyKey = idempotencyKey;
      job.fingerprint = digest(['POST /jobs', requestJson(body)]);
    }
    return job;
  }

  async submitDocument(upload: UploadedDocument, idempotencyKey: string | undefined): Promise<Submitted> {
    const pipeline = this.#partitions.pick(this.queues.forSubmission(upload.pipeline, 'document'), idempotencyKey);
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
      job.fingerprint = digest(['POST /documents', sha256, requestJson({ ...upload, bytes: undefined })]);
    }
    const [submitted] = await this.#submit(pipeline, [job]);
    return submitted!;
  }

  async find(jobId: string): Promise<JobView | undefined> {
    const pipeline = this.queues.ofJob(jobId);
    if (!pipeline) return undefined;
    const snapshot = await readJob(this.redis, this.keysOf(pipeline.name), jobId, firstStage(pipeline), LONGEST_READ_WHOLE);
    return snapshot && jobView(jobId, snapshot, pipeline, pipeline.maxAttempts ?? this.config.MAX_ATTEMPTS);
  }

  /** A finished stage's whole output, as stored (JSON text). */
  async stageOutput(jobId: string, stage: string): Promise<string> {
    const pipeline = this.queues.ofJob(jobId);
    if (!pipeline) throw jobNotFound(jobId);
    if (!pipeline.stages.includes(stage)) {
      throw new ProblemError('output-not-found', `Queue "${pipeline.name}" has no stage "${stage}"; its stages: ${pipeline.stages.join(', ')}.`);
    }
    const last = pipeline.stages[pipeline.stages.length - 1] === stage;
    const keys = this.keysOf(pipeline.name);
    const [output, status, error] = await this.largeValueRedis.hmget(keys.job(jobId), last ? 'result' : `out:${stage}`, 'status', 'error');
    if (typeof output === 'string') return output;
    if (status === null && !(await this.find(jobId))) throw jobNotFound(jobId);
    const ended = status === 'dead' ? `: the job is dead, ${deadAdvice(jobId, error)}` : status === 'cancelled' ? ': the job was cancelled' : ' yet';
    throw new ProblemError('output-not-found', `Stage "${stage}" of job "${jobId}" has no output${ended}. GET /jobs/${jobId} shows where the job is.`);
  }

  /** Cancels a job that has not finished; throws the problem a client should see otherwise. */
  async cancel(jobId: string): Promise<void> {
    const pipeline = this.queues.ofJob(jobId);
    if (!pipeline) throw jobNotFound(jobId);
    const outcome = await cancelJob(this.redis, this.keysOf(pipeline.name), jobId, firstStage(pipeline), retentionSeconds(this.config), controlChannel(this.config.KEY_PREFIX));
    if (outcome.ok) return;
    if (outcome.reason === 'not-found') throw jobNotFound(jobId);
    throw new ProblemError('job-finished', `Job "${jobId}" is ${outcome.status}; only a job that has not finished can be cancelled.`, { job_status: outcome.status });
  }

  /** Queues a dead-lettered job again, with the same ID. */
  async retry(jobId: string): Promise<void> {
    const pipeline = this.queues.ofJob(jobId);
    if (!pipeline) throw jobNotFound(jobId);
    const outcome = await retryDeadJob(this.redis, this.keysOf(pipeline.name), jobId, this.backlogLimitOf(pipeline));
    if (outcome.ok) return this.onEnqueued(queueNameOf(pipeline), 1);
    if (outcome.reason === 'not-found') throw jobNotFound(jobId);
    if (outcome.reason === 'backlog-full') throw await queueFull(this.redis, this.keysOf(pipeline.name), pipeline, outcome, `retrying job "${jobId}" would pass it; try again later`);
    if (outcome.reason === 'input-lost') {
      const how = outcome.code === 'RECORD_LOST' ? 'its record is gone (RECORD_LOST: deleted, or it never existed), and its input with it' : 'it was lost with its stream entry before any worker read it (ENTRY_LOST)';
      throw new ProblemError('job-input-lost', `Job "${jobId}" cannot run again: ${how}; submit it again as a new job.`);
    }
    throw new ProblemError('job-not-dead', `Job "${jobId}" is ${outcome.status}, not dead; only a dead-lettered job can be retried.`, { job_status: outcome.status });
  }

  /**
   * The 422 for a job whose idempotency key was stored with a different request: by an earlier
   * request, or by an earlier job of the same batch (the script stores a batch's jobs in order).
   */
  #keyReused(jobs: readonly NewJob[], index: number, places?: readonly number[]): ProblemError {
    const key = jobs[index]!.idempotencyKey;
    const place = (i: number) => `body.jobs.${places?.[i] ?? i}`;
    const earlier = jobs.findIndex((job, i) => i < index && job.idempotencyKey === key);
    if (earlier >= 0) {
      return new ProblemError('idempotency-key-reused', `${place(index)} has the idempotency key "${key}" of ${place(earlier)} (counted from 0), with a different request. Give each job of a batch its own key.`);
    }
    const which = jobs.length > 1 ? ` (${place(index)}, counted from 0)` : '';
    return new ProblemError('idempotency-key-reused', `Idempotency key "${key}"${which} was already used within the last ${durationInWords(this.config.IDEMPOTENCY_TTL)} (IDEMPOTENCY_TTL) for a different request. Use a new key for a new request.`);
  }

  /** Most undone jobs the queue (or partition) may hold before a submission or a retry is refused; 0 for no limit. */
  backlogLimitOf(target: Pipeline): number {
    return this.#limitsOf(target).maxBacklog;
  }

  /** Enqueue limits for one queue or partition: a partition's share of MAX_BACKLOG. */
  #limitsOf(target: Pipeline): EnqueueLimits {
    let limits = this.#limits.get(target.name);
    if (!limits) this.#limits.set(target.name, (limits = { idempotencyTtlSeconds: Math.ceil(this.config.IDEMPOTENCY_TTL / 1_000), maxBacklog: this.#partitions.backlogLimit(target, this.config.MAX_BACKLOG) }));
    return limits;
  }

  /** `places`: each job's place in the batch it came in, when not its place in `jobs` (one partition's share of a batch). */
  async #submit(pipeline: Pipeline, jobs: NewJob[], places?: readonly number[]): Promise<Submitted[]> {
    const outcome = await enqueueJobs(this.#connectionFor(jobs), this.keysOf(pipeline.name), firstStage(pipeline), jobs, this.#limitsOf(pipeline)).catch((error: unknown) =>
      lookBeforeSendingAgain(error, jobs),
    );
    if (!outcome.ok) {
      if (outcome.reason === 'idempotency-conflict') throw this.#keyReused(jobs, outcome.index, places);
      throw await queueFull(this.redis, this.keysOf(pipeline.name), pipeline, outcome, batchAdvice(jobs.length, outcome.backlog, outcome.limit));
    }
    let created = 0;
    for (const job of outcome.jobs) if (job.created) created += 1;
    if (created > 0) this.onEnqueued(queueNameOf(pipeline), created);
    this.#announceDelayed(pipeline, jobs);
    const now = Date.now();
    if (created === outcome.jobs.length) {
      // The common answer, every job new, needs no lookups (nor a promise per job).
      return outcome.jobs.map(({ id }, i) => ({ jobId: id, status: statusOfNew(jobs[i]!, now), created: true }));
    }
    // A key given twice in one batch names one job: its status is told once, the same for both
    // (the one created here as created; one an earlier request made, looked up once).
    const statusOf = new Map<string, JobStatus | Promise<JobStatus>>();
    outcome.jobs.forEach(({ id, created: isNew }, i) => {
      if (isNew) statusOf.set(id, statusOfNew(jobs[i]!, now));
    });
    return Promise.all(
      outcome.jobs.map(async ({ id, created: isNew }) => {
        let status = statusOf.get(id);
        if (status === undefined) statusOf.set(id, (status = this.#statusNow(id)));
        return { jobId: id, status: await status, created: isNew };
      }),
    );
  }

  /** The status of a job an idempotency key matched, as it is now (completed: its record expired since). */
  async #statusNow(jobId: string): Promise<JobStatus> {
    return (await this.find(jobId))?.status ?? 'completed';
  }

  #connectionFor(jobs: readonly NewJob[]): RedisClient {
    let bytes = 0;
    for (const job of jobs) {
      bytes += job.payload.length + (job.document?.length ?? 0);
      if (bytes >= LARGE_VALUE_BYTES) return this.largeValueRedis;
    }
    return this.redis;
  }

  /**
   * Tells the workers when the earliest of `jobs` that wait for their run_at is due, so one of
   * them queues it on time rather than at its next maintenance tick. Only a hint: if it is lost,
   * that tick queues the job. Not told again of a job due after one they were told of and that is
   * not due yet: the worker that queues that one then wakes for the next (a steady flow of
   * delayed jobs costs a message per queue per delay, not one per job to every worker).
   */
  #announceDelayed(target: Pipeline, jobs: readonly NewJob[]): void {
    const now = Date.now();
    let earliest = Number.POSITIVE_INFINITY;
    for (const job of jobs) if (job.runAt !== undefined && job.runAt > now && job.runAt < earliest) earliest = job.runAt;
    if (earliest === Number.POSITIVE_INFINITY) return;
    const announced = this.#announced.get(target.name);
    if (announced !== undefined && announced > now && announced <= earliest) return;
    this.#announced.set(target.name, earliest);
    const message: ControlMessage = { type: 'delayed', queue: target.name, due_in_ms: earliest - now };
    this.redis.publish(controlChannel(this.config.KEY_PREFIX), JSON.stringify(message)).catch(() => {});
  }
}

/** A new job is delayed while its run_at lies ahead, queued otherwise. */
function statusOfNew(job: NewJob, now: number): 'queued' | 'delayed' {
  return job.runAt !== undefined && job.runAt > now ? 'delayed' : 'queued';
}

/** The 404 of a job ID that names no job, on every route that takes one. */
export function jobNotFound(jobId: string): ProblemError {
  // The ID XADD answers a producer is its entry's, not its job's: the job's name starts with its queue.
  if (BARE_ENTRY_ID.test(jobId)) {
    return new ProblemError('job-not-found', `No job has the ID "${jobId}". It looks like a stream entry ID: a job added to a stream with XADD is named after its stream and entry, such as "inference:${jobId}" for the inference queue's normal lane, or "documents:high:${jobId}" for another lane (README, Producing jobs from any Redis client).`);
  }
  return new ProblemError('job-not-found', `No job has the ID "${jobId}". It never existed, or it finished more than JOB_RETENTION ago and expired.`);
}

const BARE_ENTRY_ID = /^\d+-\d+$/;

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

/**
 * A request as JSON for its fingerprint, with the keys of every object below the top in order:
 * a client that rebuilds a body (a retry layer merging params) may reorder `params` or
 * `metadata`, which is the same request, and was a 422 `idempotency-key-reused`. The top level
 * is in the schema's order already, and kept so: a fingerprint stored before this stays equal
 * for a body whose nested keys were in order.
 */
function requestJson(request: object): string {
  return JSON.stringify(request, (key, value: unknown) => {
    if (key === '' || typeof value !== 'object' || value === null || Array.isArray(value)) return value;
    const fields = value as Record<string, unknown>;
    return Object.fromEntries(Object.keys(fields).sort().map((name) => [name, fields[name]]));
  });
}

function digest(parts: string[]): string {
  return createHash('sha256').update(parts.join('\n')).digest('base64url');
}

/** A duration in its largest whole unit: `24 hours`, `90 minutes`, `45 seconds`. */
function durationInWords(ms: number): string {
  for (const [unit, size] of [['hour', 3_600_000], ['minute', 60_000], ['second', 1_000]] as const) {
    if (ms % size === 0) return `${ms / size} ${unit}${ms === size ? '' : 's'}`;
  }
  return `${ms} ms`;
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

/**
 * What a batch refused for MAX_BACKLOG should do: a batch can fit once other jobs are done, or
 * only if split, when it is larger than the limit itself (one with idempotency keys: without,
 * such a batch is a 413 before it is sent; see #refuseLargerThanLimit). Undefined for a single job.
 */
function batchAdvice(size: number, backlog: number, limit: number): string | undefined {
  if (size <= 1) return undefined;
  if (size > limit) return `this batch of ${size} jobs is more than the limit itself: send it in batches of at most ${limit}`;
  const room = Math.max(0, limit - backlog);
  return `there is room for ${room} more, and this batch has ${size} jobs: send fewer at once, or try again later`;
}

/**
 * A request its model cannot run (a blank prompt, `params.sleep_ms` of "soon"), refused as the
 * 400 problem naming the field, by the same reading a worker makes (see checkModelInput): the
 * job would otherwise be accepted and dead-lettered at its first attempt. `index`: the job's
 * place in a batch, for the path the refusal names (`body.jobs.<index>.<field>`).
 */
function checkRequestForModel(kind: ModelKind, body: CreateJobBody, index: number | undefined): void {
  try {
    checkModelInput(kind, body);
  } catch (error) {
    if (!(error instanceof ModelInputError)) throw error;
    throw new ModelInputProblem([{ path: `${index === undefined ? 'body' : `body.jobs.${index}`}.${error.field}`, message: error.problem }]);
  }
}

/** The 400 for requests their models cannot run: one job's fault, or a batch's (see invalidRequest). */
class ModelInputProblem extends ProblemError {
  constructor(readonly faults: readonly ValidationError[]) {
    const { detail, errors } = invalidRequest(faults);
    super('invalid-request', detail, { errors });
  }
}

/** What to do about a dead job whose stored error is `errorText`: a retry, unless the error says a retry fails the same way. */
function deadAdvice(jobId: string, errorText: string | null | undefined): string {
  const error = errorView(json(errorText ?? undefined));
  if (error?.retryable === false) return `of an error a retry does not mend${error.code ? ` (${error.code})` : ''}: submit it again, changed`;
  return `and POST /jobs/${jobId}/retry runs it again`;
}
