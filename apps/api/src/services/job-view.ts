import { namedJobId, type JobSnapshot, type Lane, type Pipeline } from '@conveyor/shared';
import type { JobStatus, JobView } from '../schemas/job-view.js';
import { previewOutput } from './output-preview.js';

/** Turns a stored job (record or queued entry) into what `GET /jobs/:id` shows. */

export function iso(ms: string | number | undefined): string | null {
  if (ms === undefined || ms === '') return null;
  const value = Number(ms);
  return Number.isFinite(value) ? new Date(value).toISOString() : null;
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

export function json(text: string | undefined): unknown {
  if (text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

type StoredError = Record<string, unknown> & { message: string; at?: number };

export function errorView(value: unknown): JobView['error'] {
  if (!value || typeof value !== 'object' || typeof (value as StoredError).message !== 'string') return null;
  const { at, ...rest } = value as StoredError;
  return { ...rest, message: (value as StoredError).message, ...(at === undefined ? {} : { at: iso(at) ?? undefined }) };
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

export function jobView(jobId: string, snapshot: JobSnapshot, pipeline: Pipeline, defaultMaxAttempts: number): JobView {
  if (snapshot.kind === 'entry') {
    // No record yet: queued, or in its first attempt (`running`).
    const { running } = snapshot;
    const created = iso(snapshot.entryId.split('-')[0]);
    const started = running ? iso(running.startedAt) : null;
    const input = namedJobId(pipeline.name, snapshot.fields['job']) ? json(snapshot.fields['payload']) : snapshot.fields;
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
  const finished = (json(f['stages']) ?? {}) as Record<string, StageSummary>;
  const lastStage = pipeline.stages[pipeline.stages.length - 1];
  const outputUrl = (name: string) => `/jobs/${jobId}/stages/${name}/output`;
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
        attempts: count(f['attempts'], 0),
        worker: f['worker'] ?? null,
        started_at: iso(f['stage_started_at'] ?? done?.started_at),
        finished_at: done ? iso(done.finished_at) : null,
        ...(status === 'completed' ? whole : { output: null, output_truncated: false, output_url: null }),
      };
    }
    return { name, status: 'pending' as const, attempts: 0, worker: null, started_at: null, finished_at: null, output: null, output_truncated: false, output_url: null };
  });
  const result = status === 'completed' ? preview('result') : { output: null, truncated: false };
  const errors = (json(f['errors']) as unknown[] | null) ?? [];
  return {
    id: jobId,
    ...queueOf(pipeline),
    status,
    stage: current,
    priority: (f['lane'] ?? 'normal') as Lane,
    attempts: count(f['attempts'], 0),
    max_attempts: count(f['max_attempts'], defaultMaxAttempts),
    stalls: count(f['stalls'], 0),
    worker: f['worker'] ?? null,
    progress: f['progress'] === undefined ? null : { percent: Number(f['progress']), message: f['progress_message'] ?? '' },
    input: json(f['payload']),
    result: result.output,
    result_truncated: result.truncated,
    error: errorView(json(f['error'])),
    errors: errors.map(errorView).filter((e) => e !== null),
    stages,
    created_at: iso(f['created_at']),
    started_at: iso(f['started_at']),
    finished_at: iso(f['finished_at']),
    updated_at: iso(f['updated_at'] ?? f['created_at']),
    retry_at: iso(f['retry_at'] ?? f['run_at']),
  };
}
