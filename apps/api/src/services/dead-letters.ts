import { fieldsOf, retryDeadJob, type QueueKeys, type RedisClient } from '@conveyor/shared';
import { errorView, iso, json } from './job-view.js';

type StreamEntry = [id: string, fields: string[]];

function deadView([, flat]: StreamEntry) {
  const f = fieldsOf(flat);
  return {
    job_id: f['job'] ?? '',
    stage: f['stage'] ?? '',
    priority: f['lane'] ?? 'normal',
    attempts: Number(f['attempts'] ?? 0),
    error: errorView(json(f['error'])),
    errors: ((json(f['errors']) as unknown[] | null) ?? []).map(errorView).filter((e) => e !== null),
    input: json(f['payload']),
    created_at: iso(f['created_at']),
    dead_at: iso(f['dead_at']),
  };
}

/** A page of a queue's dead letters, newest first. */
export async function listDead(redis: RedisClient, keys: QueueKeys, limit: number, cursor: string | undefined) {
  // Nothing sorts before 0-0 (Redis refuses an exclusive end it cannot step back from).
  if (cursor !== undefined && /^0+-0+$/.test(cursor)) return { jobs: [], next_cursor: null };
  const entries = (await redis.xrevrange(keys.dead, cursor ? `(${cursor}` : '+', '-', 'COUNT', limit)) as StreamEntry[];
  return { jobs: entries.map(deadView), next_cursor: entries.length === limit ? entries.at(-1)![0] : null };
}

/** Retries up to `limit` dead jobs of a queue, oldest first. */
export async function retryAllDead(redis: RedisClient, keys: QueueKeys, limit: number) {
  const skipped: { job_id: string; reason: string }[] = [];
  let retried = 0;
  let cursor = '-';
  while (retried + skipped.length < limit) {
    const entries = (await redis.xrange(keys.dead, cursor, '+', 'COUNT', Math.min(100, limit - retried - skipped.length))) as StreamEntry[];
    if (entries.length === 0) break;
    for (const [id, flat] of entries) {
      const jobId = fieldsOf(flat)['job'] ?? '';
      const outcome = await retryDeadJob(redis, keys, jobId);
      if (outcome.ok) retried += 1;
      else skipped.push({ job_id: jobId, reason: outcome.reason === 'not-found' ? 'its record expired (JOB_RETENTION)' : `it is ${outcome.status}, not dead` });
      cursor = `(${id}`;
    }
  }
  return { retried, skipped, remaining: await redis.xlen(keys.dead) };
}
