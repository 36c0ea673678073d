import { deletePrefix, redisTest, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { createRedis, QueueKeys } from '@conveyor/shared';
import { afterAll, beforeAll, describe, expect, inject } from 'vitest';

// The API and a worker as separate processes, as a user runs them; everything goes through HTTP.
const prefix = uniquePrefix('e2e');
let api: ApiProcess;
let worker: WorkerProcess;

beforeAll(async () => {
  const redisUrl = inject('redisUrl');
  [api, worker] = await Promise.all([startApi({ redisUrl, prefix }), startWorker({ redisUrl, prefix })]);
});

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  const redis = createRedis(inject('redisUrl'), { role: 'command', name: 'cleanup' });
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

async function getJob(location: string) {
  const response = await fetch(`${api.url}${location}`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('an inference job, end to end', () => {
  redisTest('POST /jobs answers 202 at once; GET shows queued → active → completed with result, timestamps and attempts', async () => {
    // Fill the worker's 8 slots first (and wait until it runs all 8), so the job is seen waiting
    // before it runs: a high-priority job queued while the fillers still wait would go first.
    const post = (body: object) => fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const fillers = await Promise.all(Array.from({ length: 8 }, () => post({ model: 'echo', params: { sleep_ms: 1_500 } })));
    const fillerLocations = fillers.map((filler) => filler.headers.get('location')!);
    await waitFor(async () => (await Promise.all(fillerLocations.map(getJob))).every(({ body }) => body['status'] === 'active'), 'the worker to run the 8 filler jobs', 10_000, 20);
    const posted = await fetch(`${api.url}/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'echo', prompt: 'hi', priority: 'high', params: { sleep_ms: 600 } }),
    });
    expect(posted.status).toBe(202);
    const accepted = (await posted.json()) as { job_id: string; status: string };
    expect(accepted.status).toBe('queued');
    const location = posted.headers.get('location')!;
    expect(location).toBe(`/jobs/${accepted.job_id}`);

    const seen: string[] = [];
    const job = await waitFor(async () => {
      const { body } = await getJob(location);
      if (seen.at(-1) !== body['status']) seen.push(body['status'] as string);
      return body['status'] === 'completed' ? body : undefined;
    }, 'the job to complete', 15_000, 20);
    expect(seen).toEqual(['queued', 'active', 'completed']);
    expect(job).toMatchObject({
      id: accepted.job_id,
      queue: 'inference',
      status: 'completed',
      priority: 'high',
      attempts: 1,
      worker: expect.stringMatching(/-\d+$/),
      result: { model: 'echo', text: 'hi' },
      error: null,
    });
    const created = Date.parse(job['created_at'] as string);
    const started = Date.parse(job['started_at'] as string);
    const finished = Date.parse(job['finished_at'] as string);
    expect(created).toBeLessThanOrEqual(started);
    expect(finished - started).toBeGreaterThanOrEqual(600);
  });

  redisTest('an unknown job ID is a 404 problem', async () => {
    const { status, body } = await getJob('/jobs/inference:01JDQ8K3V7X9ABCDEFGHJKMNPQ');
    expect(status).toBe(404);
    expect(body['type']).toBe('/problems/job-not-found');
  });

  redisTest('an entry XADDed straight into the stream by another Redis client is processed and visible by its job ID', async ({ redisUrl }) => {
    const redis = createRedis(redisUrl, { role: 'command', name: 'producer' });
    try {
      const stream = new QueueKeys(prefix, 'inference').stream('infer', 'normal');
      const entryId = await redis.xadd(stream, '*', 'model', 'echo', 'prompt', 'from redis-cli', 'user_id', '12345');
      const job = await waitFor(async () => {
        const { body } = await getJob(`/jobs/inference:${entryId}`);
        return body['status'] === 'completed' ? body : undefined;
      }, 'the directly produced job to complete');
      expect(job).toMatchObject({
        id: `inference:${entryId}`,
        result: { model: 'echo', text: 'from redis-cli' },
        input: { model: 'echo', prompt: 'from redis-cli', user_id: '12345' },
        attempts: 1,
      });
    } finally {
      redis.disconnect();
    }
  });
});
