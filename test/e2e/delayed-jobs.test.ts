import { controlChannel, createRedis, QueueKeys } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

// The worker looks for due delayed jobs only every 10 s: a job queued by that look alone would
// run seconds late. Delayed jobs must be queued at their time (from the API's hint, or the
// worker's own timer), and thousands due at once together.
const prefix = uniquePrefix('delayed');
const keys = new QueueKeys(prefix, 'inference');
let api: ApiProcess;
let worker: WorkerProcess;
const redis = () => createRedis(inject('redisUrl'), { role: 'command', name: 'conveyor:delayed-test' });

beforeAll(async () => {
  const redisUrl = inject('redisUrl');
  [api, worker] = await Promise.all([
    startApi({ redisUrl, prefix, env: { MAX_BACKLOG: '0' } }),
    startWorker({ redisUrl, prefix, env: { MAINTENANCE_INTERVAL: '10s', CONCURRENCY: '256', LOG_TRANSITIONS: 'false' } }),
  ]);
});

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  const client = redis();
  await deletePrefix(client, prefix);
  client.disconnect();
});

const post = async (path: string, body: object) => {
  const response = await fetch(`${api.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(response.status).toBe(202);
  return (await response.json()) as Record<string, unknown>;
};

/** Each job's record once all completed: when it started, and its errors. */
async function completed(ids: readonly string[], timeoutMs = 20_000) {
  const client = redis();
  try {
    return await waitFor(
      async () => {
        const pipeline = client.pipeline();
        for (const id of ids) pipeline.hmget(keys.job(id), 'status', 'started_at', 'errors', 'attempts');
        const records = ((await pipeline.exec()) ?? []).map(([, value]) => value as (string | null)[]);
        if (!records.every(([status]) => status === 'completed')) return undefined;
        return records.map(([, startedAt, errors, attempts]) => ({ startedAt: Number(startedAt), errors: JSON.parse(errors ?? '[]') as { at: number }[], attempts: Number(attempts) }));
      },
      `${ids.length} jobs to complete`,
      timeoutMs,
      100,
    );
  } finally {
    client.disconnect();
  }
}

describe('delayed jobs', () => {
  test('a job posted with delay_ms runs at its time, not at the next maintenance tick', async () => {
    const runAt = Date.now() + 1_000;
    const { job_id } = await post('/jobs', { model: 'echo', prompt: 'later', delay_ms: 1_000 });
    const [record] = await completed([job_id as string]);
    expect(record!.startedAt).toBeGreaterThanOrEqual(runAt - 50);
    expect(record!.startedAt - runAt).toBeLessThan(2_000);
  });

  test('5,000 jobs due at the same moment are all queued when due, not 500 a tick', async () => {
    const runAt = new Date(Date.now() + 1_500).toISOString();
    const ids: string[] = [];
    for (let batch = 0; batch < 5; batch++) {
      const body = await post('/jobs/batch', { jobs: Array.from({ length: 1_000 }, (_, i) => ({ model: 'echo', prompt: `due ${batch}.${i}`, run_at: runAt })) });
      ids.push(...(body['jobs'] as { job_id: string }[]).map((job) => job.job_id));
    }
    const records = await completed(ids, 30_000);
    const started = records.map((record) => record.startedAt);
    expect(Math.min(...started)).toBeGreaterThanOrEqual(Date.parse(runAt) - 50);
    // One tick of 500 jobs every 10 s would take 100 s.
    expect(Math.max(...started) - Date.parse(runAt)).toBeLessThan(5_000);
  });

  test('a steady flow of delayed jobs costs one hint to the workers, not one per job, and every job still runs on time', async () => {
    const listener = createRedis(inject('redisUrl'), { role: 'subscriber', name: 'conveyor:delayed-test:listener' });
    const hints: unknown[] = [];
    try {
      await listener.subscribe(controlChannel(prefix));
      listener.on('message', (_channel: string, text: string) => {
        const message = JSON.parse(text) as { type: string };
        if (message.type === 'delayed') hints.push(message);
      });
      const posted: { id: string; runAt: number }[] = [];
      for (let i = 0; i < 50; i++) {
        const runAt = Date.now() + 2_000;
        const { job_id } = await post('/jobs', { model: 'echo', prompt: `flow ${i}`, delay_ms: 2_000 });
        posted.push({ id: job_id as string, runAt });
      }
      const records = await completed(posted.map((job) => job.id));
      const lateness = records.map((record, i) => record.startedAt - posted[i]!.runAt);
      expect(Math.min(...lateness)).toBeGreaterThanOrEqual(-50);
      expect(Math.max(...lateness)).toBeLessThan(2_000);
      // Each job after the first is due after it, and was posted before it was due.
      expect(hints).toEqual([{ type: 'delayed', queue: 'inference', due_in_ms: expect.any(Number) }]);
    } finally {
      listener.disconnect();
    }
  });

  test('a failed attempt is retried after its backoff, not at the next maintenance tick', async () => {
    const { job_id } = await post('/jobs', { model: 'echo', prompt: 'retry', backoff: { type: 'fixed', delay_ms: 500 }, params: { fail: 1 } });
    const [record] = await completed([job_id as string]);
    expect(record!.attempts).toBe(2);
    // A 500 ms backoff with equal jitter waits 250 to 500 ms.
    const retriedAfter = record!.startedAt - record!.errors[0]!.at;
    expect(retriedAfter).toBeGreaterThanOrEqual(200);
    expect(retriedAfter).toBeLessThan(2_000);
  });
});
