import { metadataOfText, namedJobId, type JobSnapshot, type Lane, type Pipeline } from '@conveyor/shared';
import { jobPath } from '../job-path.js';
import { attemptErrorSchema, type JobStatus, type JobView } from '../schemas/job-view.js';
import type { ZodType } from 'zod';
import { nestedDeeperThan } from './json-depth.js';
import { previewOutput } from './output-preview.js';

/** Turns a stored job (record or queued entry) into what `GET /jobs/:id` shows. */

/** The furthest a Date reaches from 1970, either way: 100,000,000 days (ECMA-262, Time Values). */
const MAX_DATE_MS = 8.64e15;

/** Statuses in which a job stopped at its current stage without completing it. */
const ENDED: ReadonlySet<JobStatus> = new Set(['dead', 'cancelled']);
/** A job waiting to run (again): no worker holds it, whichever ran its last attempt. */
const WAITING: ReadonlySet<JobStatus> = new Set(['queued', 'delayed', 'retrying']);

/**
 * A time in milliseconds as ISO 8601, or null when there is none, or none a Date can hold: an
 * entry ID another producer chose (`XADD key 8700000000000000-0 ...`), and every `*` ID after
 * it in that stream, is past the year 275760, where toISOString throws.
 */
export function iso(ms: string | number | undefined): string | null {
  if (ms === undefined || ms === '') return null;
  const value = Number(ms);
  return Number.isFinite(value) && Math.abs(value) <= MAX_DATE_MS ? new Date(value).toISOString() : null;
}

/**
 * A count the record keeps (attempts, max attempts, stalls) as a number, or `fallback` when it is
 * not a whole number: a record another producer's entry gave a bad value must still be shown,
 * not answered with a 500 for failing the answer's schema.
 */
function count(value: unknown, fallback: number): number {
  const number = typeof value === 'string' && value !== '' ? Number(value) : value;
  return typeof number === 'number' && Number.isSafeInteger(number) && number >= 0 ? number : fallback;
}

/**
 * A stored JSON field as its value; text that is not JSON, or JSON nested too deep to be written
 * again (see MAX_SHOWN_DEPTH), as the text it is.
 */
export function json(text: string | undefined): unknown {
  if (text === undefined) return null;
  if (nestedDeeperThan(text)) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

type StoredError = Record<string, unknown> & { message: string; at?: unknown };

/** What each field of a stored error must be to be shown: the answers' own schema of it. */
const ERROR_FIELDS: Record<string, ZodType | undefined> = attemptErrorSchema.shape;

/**
 * An error as the answers show it, or null when `value` is none. A field that is not what
 * Conveyor writes (an error another producer put in a dead-letter entry) is left out, so it
 * cannot fail the answer's schema.
 */
export function errorView(value: unknown): JobView['error'] {
  if (!value || typeof value !== 'object' || typeof (value as StoredError).message !== 'string') return null;
  const { at, ...rest } = value as StoredError;
  const shown: Record<string, unknown> = { ...rest, message: (value as StoredError).message };
  for (const field of Object.keys(shown)) if (ERROR_FIELDS[field]?.safeParse(shown[field]).success === false) delete shown[field];
  const time = typeof at === 'number' || typeof at === 'string' ? iso(at) : null;
  return { ...(shown as JobView['error'] & object), ...(time === null ? {} : { at: time }) };
}

/** Stored errors (a JSON list) as the answers show them; anything that is not a list of errors, none. */
export function errorsView(text: string | undefined): NonNullable<JobView['error']>[] {
  const errors = json(text);
  return Array.isArray(errors) ? errors.map(errorView).filter((e) => e !== null) : [];
}

interface StageSummary {
  attempts?: number;
  started_at?: number;
  finished_at?: number;
  worker?: string;
}

/** The queue a job shows: its name, and for a job of a partitioned queue the partition it is in. */
function queueOf(pipeline: Pipeline): { queue: string; partition?: number } {
  return pipeline.partition ? { queue: pipeline.partition.queue, partition: pipeline.partition.index } : { queue: pipeline.name };
}

/**
 * A job's input as its worker reads it: an entry another producer XADDed holds strings only, and
 * its `params` and `metadata` may be JSON text (`params '{"sleep_ms":100}'`), which the worker
 * takes as the object it holds. They are shown so too, not as the text. The API's own jobs hold
 * objects there already.
 */
function inputAsRead(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const fields = input as Record<string, unknown>;
  const read = { ...fields };
  const params = fields['params'];
  if (typeof params === 'string' && params.trimStart().startsWith('{')) {
    const value = json(params);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) read['params'] = value;
  }
  // Metadata the worker keeps as text (not the JSON of an object the API would take) is shown as text.
  const metadata = typeof fields['metadata'] === 'string' ? metadataOfText(fields['metadata']) : undefined;
  if (metadata) read['metadata'] = metadata;
  return read;
}

export function jobView(jobId: string, snapshot: JobSnapshot, pipeline: Pipeline, defaultMaxAttempts: number): JobView {
  if (snapshot.kind === 'entry') {
    // No record yet: queued, or in its first attempt (`running`).
    const { running } = snapshot;
    const created = iso(snapshot.entryId.split('-')[0]);
    const started = running ? iso(running.startedAt) : null;
    const input = namedJobId(pipeline.name, snapshot.fields['job']) ? json(snapshot.fields['payload']) : inputAsRead(snapshot.fields);
    const options = json(snapshot.fields['opts']) as { max_attempts?: number } | null;
    return {
      id: jobId,
      ...queueOf(pipeline),
      status: running ? 'active' : 'queued',
      stage: snapshot.stage,
      priority: snapshot.lane,
      attempts: running ? 1 : 0,
      max_attempts: count(options?.max_attempts, defaultMaxAttempts),
      stalls: 0,
      worker: running?.worker ?? null,
      progress: null,
      input,
      result: null,
      result_truncated: false,
      error: null,
      errors: [],
      stages: pipeline.stages.map((name) => ({
        name,
        status: name !== snapshot.stage ? 'pending' : running ? 'active' : 'queued',
        attempts: name === snapshot.stage && running ? 1 : 0,
        worker: name === snapshot.stage ? (running?.worker ?? null) : null,
        started_at: name === snapshot.stage ? started : null,
        finished_at: null,
        output: null,
        output_truncated: false,
        output_url: null,
      })),
      created_at: created,
      started_at: started,
      finished_at: null,
      updated_at: started ?? created,
      retry_at: null,
    };
  }

  const f = snapshot.fields;
  const status = f['status'] as JobStatus;
  const current = f['stage'] ?? pipeline.stages[0]!;
  const attempts = count(f['attempts'], 0);
  // The record's worker ran the previous stage until a worker takes this one, and the last attempt
  // of a job waiting to run again (released by a stopping worker, retrying): no worker holds it.
  const currentWorker = attempts > 0 && !WAITING.has(status) ? (f['worker'] ?? null) : null;
  const finished = (json(f['stages']) ?? {}) as Record<string, StageSummary>;
  const lastStage = pipeline.stages[pipeline.stages.length - 1];
  const outputUrl = (name: string) => `${jobPath(jobId)}/stages/${encodeURIComponent(name)}/output`;
  // A long output is read only in part; `cut:<field>` then gives its whole length (see readJob).
  const preview = (field: string) => previewOutput(f[field], json, f[`cut:${field}`] === undefined ? undefined : Number(f[`cut:${field}`]));
  const stages = pipeline.stages.map((name) => {
    const done = finished[name];
    const { output, truncated } = preview(name === lastStage ? 'result' : `out:${name}`);
    const whole = { output, output_truncated: truncated, output_url: outputUrl(name) };
    if (done && name !== current) {
      return { name, status: 'completed' as const, attempts: done.attempts ?? 0, worker: done.worker ?? null, started_at: iso(done.started_at), finished_at: iso(done.finished_at), ...whole };
    }
    if (name === current) {
      return {
        name,
        status,
        attempts,
        worker: currentWorker,
        started_at: iso(f['stage_started_at'] ?? done?.started_at),
        // A stage that ended the job (dead, cancelled) ended when the job did.
        finished_at: done ? iso(done.finished_at) : ENDED.has(status) ? iso(f['finished_at']) : null,
        ...(status === 'completed' ? whole : { output: null, output_truncated: false, output_url: null }),
      };
    }
    return { name, status: 'pending' as const, attempts: 0, worker: null, started_at: null, finished_at: null, output: null, output_truncated: false, output_url: null };
  });
  const result = status === 'completed' ? preview('result') : { output: null, truncated: false };
  return {
    id: jobId,
    ...queueOf(pipeline),
    status,
    stage: current,
    priority: (f['lane'] ?? 'normal') as Lane,
    attempts,
    // Its own limit, or the workers' default its failures were judged by (fail.lua), or the API's.
    max_attempts: count(f['max_attempts'] ?? f['default_max_attempts'], defaultMaxAttempts),
    stalls: count(f['stalls'], 0),
    worker: currentWorker,
    // The running attempt's: a finished job showed its last report (50%, "halfway") for good.
    progress: status !== 'active' || f['progress'] === undefined ? null : { percent: Number(f['progress']), message: f['progress_message'] ?? '' },
    input: inputAsRead(json(f['payload'])),
    result: result.output,
    result_truncated: result.truncated,
    error: errorView(json(f['error'])),
    errors: errorsView(f['errors']),
    stages,
    created_at: iso(f['created_at']),
    started_at: iso(f['started_at']),
    finished_at: iso(f['finished_at']),
    updated_at: iso(f['updated_at'] ?? f['created_at']),
    // Kept in the record after it is due (or the job cancelled), where it says nothing.
    retry_at: status === 'retrying' || status === 'delayed' ? iso(f['retry_at'] ?? f['run_at']) : null,
  };
}
