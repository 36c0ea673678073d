import { fieldsOf, LANES, retryDeadJob, type Lane, type Pipeline, type QueueKeys, type RedisClient, type RetryOutcome } from '@conveyor/shared';
import type { FastifyBaseLogger } from 'fastify';
import { queueFull } from '../problems/queue-full.js';
import { errorsView, errorView, iso, json } from './job-view.js';
import { previewOutput } from './output-preview.js';
import { compareIds, pageOf, RANGE_BYTES, readInSteps, type StreamEntry } from './stream-range.js';

/**
 * A dead-letter entry as the list shows it. Any client may XADD to a dead stream: a field that is
 * not what Conveyor writes there (`attempts abc`, `lane weird`) shows as null, and the rest of
 * the entry, and of the list, is still shown.
 */
function deadView([, flat]: StreamEntry) {
  const f = fieldsOf(flat);
  // A page of 500 dead jobs with 1 MiB prompts was 500 MB of JSON, past what a string can hold.
  const { output: input, truncated } = previewOutput(f['payload'], json);
  const lane = f['lane'] ?? 'normal';
  const attempts = f['attempts'] === undefined ? 0 : /^\d{1,15}$/.test(f['attempts']) ? Number(f['attempts']) : null;
  return {
    job_id: f['job'] ?? '',
    stage: f['stage'] ?? '',
    priority: (LANES as readonly string[]).includes(lane) ? (lane as Lane) : null,
    attempts,
    error: errorView(json(f['error'])),
    errors: errorsView(f['errors']),
    input,
    input_truncated: truncated,
    created_at: iso(f['created_at']),
    dead_at: iso(f['dead_at']),
  };
}

/**
 * A page of a queue's dead letters, newest first, from the dead streams of the queue and its
 * partitions (`keys`, in that order). With several, they are merged by entry ID (then by their
 * order in `keys`), and a cursor is `<entry ID>~<position in keys>`, so equal IDs in two
 * partitions are neither skipped nor shown twice. A page holds fewer than `limit` when its
 * entries pass RANGE_BYTES, with a cursor to the rest.
 */
export async function listDead(redis: RedisClient, keys: readonly QueueKeys[], limit: number, cursor: string | undefined) {
  const [cursorId, cursorAt] = cursor === undefined ? [undefined, keys.length] : parseCursor(cursor, keys.length);
  const budget = RANGE_BYTES / keys.length;
  const reads = await Promise.all(
    keys.map(async ({ dead }, at) => {
      // A stream at or after the cursor's starts after its ID; one before it, at it.
      const exclusive = at >= cursorAt;
      // Nothing sorts before 0-0 (Redis refuses an exclusive end it cannot step back from).
      if (cursorId !== undefined && exclusive && /^0+-0+$/.test(cursorId)) return { entries: [], cutShort: false, at };
      const end = cursorId === undefined ? '+' : exclusive ? `(${cursorId}` : cursorId;
      // One more than the page: whether there is a next page is known, not guessed from a full one.
      return { ...(await readInSteps(redis, dead, { from: '-', to: end, newestFirst: true }, limit + 1, budget)), at };
    }),
  );
  const sorted = reads.flatMap(({ entries, at }) => entries.map((entry) => ({ entry, at }))).sort((a, b) => compareIds(b.entry[0], a.entry[0]) || b.at - a.at);
  const { page, more } = pageOf(sorted, limit, reads);
  const last = page.at(-1);
  const next = more && last ? (keys.length === 1 ? last.entry[0] : `${last.entry[0]}~${last.at}`) : null;
  return { jobs: page.map(({ entry }) => deadView(entry)), next_cursor: next };
}

/** A cursor's entry ID and position; a bare entry ID (one stream) starts after that ID everywhere. */
function parseCursor(cursor: string, streams: number): [string, number] {
  const [id, at] = cursor.split('~');
  return [id!, at === undefined ? 0 : Math.min(Number(at), streams)];
}

/** A queue (or one of its partitions) whose dead letters are retried, and its MAX_BACKLOG share. */
export interface DeadRetryTarget {
  pipeline: Pipeline;
  keys: QueueKeys;
  maxBacklog: number;
}

/**
 * Retries up to `limit` dead jobs of a queue (the queue's own dead stream, then each partition's),
 * oldest first in each, logging each one queued again. Only the jobs dead when the call began:
 * a retried job that dies again meanwhile is dead-lettered anew, past that end, and is not
 * retried a second time (it was, up to `limit` times, when the read went on to the stream's end).
 * A retried job is a new one to MAX_BACKLOG: once the queue (or a partition) is full, its rest
 * stay dead, and the answer says so in `queue_full`; full before any could be retried, the 503.
 * `onRetried` is told of each job queued again as it is.
 */
export async function retryAllDead(redis: RedisClient, targets: readonly DeadRetryTarget[], limit: number, log: FastifyBaseLogger, onRetried: () => void = () => {}) {
  const skipped: { job_id: string; reason: string }[] = [];
  let retried = 0;
  let full: { backlog: number; limit: number; pipeline: Pipeline; keys: QueueKeys } | undefined;
  const ends = await Promise.all(targets.map(async ({ keys }) => ((await redis.xrevrange(keys.dead, '+', '-', 'COUNT', 1)) as StreamEntry[])[0]?.[0]));
  for (const [i, { keys: queue, maxBacklog, pipeline }] of targets.entries()) {
    const end = ends[i];
    if (end === undefined) continue;
    let cursor = '-';
    let stopped = false;
    while (!stopped && retried + skipped.length < limit) {
      // Read in steps within RANGE_BYTES: the entries hold their jobs' inputs whole.
      const { entries } = await readInSteps(redis, queue.dead, { from: cursor, to: end }, Math.min(100, limit - retried - skipped.length), RANGE_BYTES);
      if (entries.length === 0) break;
      for (const [id, flat] of entries) {
        const jobId = fieldsOf(flat)['job'] ?? '';
        const outcome = await retryDeadJob(redis, queue, jobId, maxBacklog);
        if (outcome.ok) {
          retried += 1;
          // Told at once: a call that fails further on has still queued these again.
          onRetried();
          log.info({ job_id: jobId }, 'dead job queued again');
        } else if (outcome.reason === 'backlog-full') {
          full = { backlog: outcome.backlog, limit: outcome.limit, pipeline, keys: queue };
          stopped = true;
          break;
        } else skipped.push({ job_id: jobId, reason: skipReason(outcome) });
        cursor = `(${id}`;
      }
    }
  }
  if (full && retried === 0) throw await queueFull(redis, full.keys, full.pipeline, full, 'no dead job was retried; try again once workers have made room');
  const remaining = await Promise.all(targets.map(({ keys }) => redis.xlen(keys.dead)));
  return {
    retried,
    skipped,
    remaining: remaining.reduce((total, count) => total + count, 0),
    ...(full ? { queue_full: { backlog: full.backlog, limit: full.limit } } : {}),
  };
}

/** Why a bulk retry left a dead job where it is, in words. */
function skipReason(outcome: Exclude<RetryOutcome, { ok: true } | { reason: 'backlog-full' }>): string {
  switch (outcome.reason) {
    case 'not-found':
      return 'its record expired (JOB_RETENTION)';
    case 'input-lost':
      return outcome.code === 'RECORD_LOST'
        ? 'its input was lost with its record (RECORD_LOST): submit it as a new job'
        : 'its input was lost with its stream entry (ENTRY_LOST): submit it as a new job';
    case 'not-dead':
      return `it is ${outcome.status}, not dead`;
  }
}
