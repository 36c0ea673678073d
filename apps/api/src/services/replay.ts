import { enqueueJobs, firstStage, metadataOfText, namedJobId, newJobId, type JobOptions, type NewJob, type Pipeline, type QueueKeys, type RedisClient } from '@conveyor/shared';
import type { ReplayBody, ReplayResult } from '../schemas/history.js';
import { jobIdOf, stageOf } from './history.js';
import { queueFull } from '../problems/queue-full.js';
import { cursorAfter, readStageRange, type StageEntry } from './stream-range.js';

/**
 * Replays a range of a stage's history: each job seen there is submitted again, as a new job
 * on the queue's first stage with the same input (and document), its `metadata.replay_of`
 * naming the original. All of a call's jobs are enqueued in one script: all or none.
 */

/** Document bytes one call may carry into the enqueue script; the rest waits for the next call (next_cursor). */
const REPLAY_DOCUMENT_BYTES = 64 * 1024 * 1024;
/** Replays carry no idempotency key, so this is never used; enqueueJobs wants one. */
const IDEMPOTENCY_TTL_SECONDS = 86_400;

const RECORD_FIELDS = ['payload', 'max_attempts', 'timeout_ms', 'backoff', 'status'] as const;
type StoredRecord = Record<(typeof RECORD_FIELDS)[number], string | null> & { documentBytes: number };

interface Replay {
  original: string;
  job: NewJob;
}

export async function replayRange(redis: RedisClient, keys: QueueKeys, pipeline: Pipeline, body: ReplayBody, maxBacklog: number): Promise<ReplayResult> {
  const stage = stageOf(pipeline, body.stage, 'body.stage');
  const range = await readStageRange(redis, keys, stage, { source: 'body', from: body.from, to: body.to, cursor: body.cursor, limit: body.limit });
  const records = await readRecords(redis, keys, pipeline, [...new Set(range.entries.map((entry) => jobIdOf(pipeline, stage, entry)))]);

  const replays: Replay[] = [];
  const skipped: ReplayResult['skipped'] = [];
  const seen = new Set<string>();
  let documentBytes = 0;
  let read = 0;
  for (const entry of range.entries) {
    const original = jobIdOf(pipeline, stage, entry);
    if (seen.has(original)) {
      read += 1;
      skipped.push({ job_id: original, reason: 'an earlier entry of the range already replays this job (it was queued here again by a retry)' });
      continue;
    }
    // More than the queue may hold undone could never be enqueued at once: the rest waits for
    // the next call (next_cursor), as it does past the document bytes.
    if (maxBacklog > 0 && replays.length >= maxBacklog) break;
    const record = records.get(original);
    const bytes = record?.documentBytes ?? 0;
    if (replays.length > 0 && documentBytes + bytes > REPLAY_DOCUMENT_BYTES) break;
    read += 1;
    seen.add(original);
    const built = buildReplay(pipeline, entry, original, record, body.priority);
    if (typeof built === 'string') skipped.push({ job_id: original, reason: built });
    else {
      replays.push(built);
      documentBytes += bytes;
    }
  }

  if (pipeline.input === 'document') await attachDocuments(redis, keys, replays, skipped);
  if (replays.length > 0) {
    const outcome = await enqueueJobs(redis, keys, firstStage(pipeline), replays.map((replay) => replay.job), { idempotencyTtlSeconds: IDEMPOTENCY_TTL_SECONDS, maxBacklog });
    if (!outcome.ok) {
      if (outcome.reason !== 'backlog-full') throw new Error(`enqueue refused a replay without idempotency keys: ${outcome.reason}`);
      throw await queueFull(redis, keys, pipeline, outcome, `replaying ${replays.length} more would pass it; replay fewer at once (limit) or try again later`);
    }
  }
  const more = read < range.entries.length || range.more;
  return {
    replayed: replays.map((replay) => ({ job_id: replay.job.id, replay_of: replay.original })),
    skipped,
    next_cursor: more && read > 0 ? cursorAfter(range.entries[read - 1]!) : null,
  };
}

/** The records of the jobs, in one round trip (without document bytes: only their size). */
async function readRecords(redis: RedisClient, keys: QueueKeys, pipeline: Pipeline, jobIds: string[]): Promise<Map<string, StoredRecord>> {
  const reads = redis.pipeline();
  for (const jobId of jobIds) {
    reads.hmget(keys.job(jobId), ...RECORD_FIELDS);
    if (pipeline.input === 'document') reads.hstrlen(keys.job(jobId), 'doc');
  }
  const replies = (await reads.exec()) ?? [];
  const perJob = pipeline.input === 'document' ? 2 : 1;
  const records = new Map<string, StoredRecord>();
  jobIds.forEach((jobId, i) => {
    const [error, values] = replies[i * perJob]!;
    if (error) throw error;
    const [payload, max_attempts, timeout_ms, backoff, status] = values as (string | null)[];
    const documentBytes = perJob === 2 ? Number(replies[i * perJob + 1]![1] ?? 0) : 0;
    // A record without a payload (a job lost with its entry or its record) is one still: its
    // replay is refused for what it lacks, not as expired.
    if (status != null) records.set(jobId, { payload: payload ?? null, max_attempts: max_attempts ?? null, timeout_ms: timeout_ms ?? null, backoff: backoff ?? null, status, documentBytes });
  });
  return records;
}

/** The new job for an entry, or why it cannot be replayed. */
function buildReplay(pipeline: Pipeline, entry: StageEntry, original: string, record: StoredRecord | undefined, priority: ReplayBody['priority']): Replay | string {
  // An API job that had no record yet carries its input in the entry; a job with a record keeps
  // it there; an entry another producer added is its own input, as the worker ran it.
  const text = namedJobId(pipeline.name, entry.fields['job']) === undefined ? JSON.stringify(entry.fields) : (entry.fields['payload'] ?? record?.payload ?? undefined);
  if (text === undefined) {
    return record ? 'neither its record nor its entry holds its input (its stream entry or its record was deleted: see its error)' : 'its record expired (JOB_RETENTION) and its entry does not hold its input';
  }
  if (pipeline.input === 'document' && (record?.documentBytes ?? 0) === 0) return 'its document expired with its record (JOB_RETENTION)';
  const input = parseObject(text);
  if (!input) return 'its input is not a JSON object';
  const metadata = input['metadata'] === undefined ? {} : typeof input['metadata'] === 'string' ? metadataOfText(input['metadata']) : asObject(input['metadata']);
  if (!metadata) return 'its metadata is not the JSON of an object of strings, numbers and booleans (it was kept as text), so replay_of cannot be added to it';
  return {
    original,
    job: {
      id: newJobId(pipeline.name),
      lane: priority ?? entry.lane,
      payload: JSON.stringify({ ...input, metadata: { ...metadata, replay_of: original } }),
      options: optionsOf(entry, record),
    },
  };
}

/** The original's own options: from its entry (`opts`) or its record. */
function optionsOf(entry: StageEntry, record: StoredRecord | undefined): JobOptions {
  if (entry.fields['opts'] !== undefined) return (parseObject(entry.fields['opts']) ?? {}) as JobOptions;
  const options: JobOptions = {};
  if (record?.max_attempts) options.max_attempts = Number(record.max_attempts);
  if (record?.timeout_ms) options.timeout_ms = Number(record.timeout_ms);
  if (record?.backoff) options.backoff = parseObject(record.backoff) as JobOptions['backoff'];
  return options;
}

/** Reads the chosen documents' bytes; one whose record expired meanwhile is skipped. */
async function attachDocuments(redis: RedisClient, keys: QueueKeys, replays: Replay[], skipped: ReplayResult['skipped']): Promise<void> {
  if (replays.length === 0) return;
  const reads = redis.pipeline();
  for (const replay of replays) reads.hgetBuffer(keys.job(replay.original), 'doc');
  const replies = (await reads.exec()) ?? [];
  const kept = replays.filter((replay, i) => {
    const [error, bytes] = replies[i]!;
    if (error) throw error;
    if (bytes instanceof Buffer && bytes.length > 0) replay.job.document = bytes;
    else skipped.push({ job_id: replay.original, reason: 'its document expired with its record (JOB_RETENTION)' });
    return replay.job.document !== undefined;
  });
  replays.splice(0, replays.length, ...kept);
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    return asObject(JSON.parse(text));
  } catch {
    return undefined;
  }
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
