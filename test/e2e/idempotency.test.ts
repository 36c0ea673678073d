import { createRedis, QueueKeys } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { apiJobs } from './api-jobs.js';

// An Idempotency-Key lives 24 h; a finished job's record lives JOB_RETENTION, here 1 s. A key is
// kept for its job while the job exists (queued, running or finished), and is free once it is gone.
const prefix = uniquePrefix('e2e-idempotency');
const env = { JOB_RETENTION: '1s', MAINTENANCE_INTERVAL: '100ms' };
const keys = new QueueKeys(prefix, 'inference');
let api: ApiProcess;
let worker: WorkerProcess;
let redis: Redis;
const { post, job } = apiJobs(() => api.url);

beforeAll(async () => {
  const redisUrl = inject('redisUrl');
  redis = createRedis(redisUrl, { role: 'command', name: 'idempotency-test' });
  [api, worker] = await Promise.all([startApi({ redisUrl, prefix, env }), startWorker({ redisUrl, prefix, env })]);
});

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

/** Status and body of a POST /jobs sent with `key` as its Idempotency-Key. */
async function submit(key: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await post('/jobs', body, { 'content-type': 'application/json', 'idempotency-key': key });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('Idempotency-Key and JOB_RETENTION', () => {
  test('a key names its job while the job runs its first attempt, before the job has a record', async () => {
    const request = { model: 'echo', prompt: 'running', params: { sleep_ms: 1_500 } };
    const first = await submit('while-running', request);
    expect(first.status).toBe(202);
    const id = String(first.body['job_id']);
    await waitFor(async () => (await job(id))['status'] === 'active', 'the job to run');
    // The first attempt of a job the API queued writes no record until it ends.
    expect(await redis.exists(keys.job(id))).toBe(0);

    const again = await submit('while-running', request);
    expect(again).toEqual({ status: 200, body: expect.objectContaining({ job_id: id }) });
    await waitFor(async () => (await job(id))['status'] === 'completed', 'the job to complete');
    expect((await submit('while-running', request)).body['job_id']).toBe(id);
  });

  test("once its job's record has expired, the key is free: the next request with it creates a job, which the key then names", async () => {
    const first = await submit('after-expiry', { model: 'echo', prompt: 'first' });
    expect(first.status).toBe(202);
    const expired = String(first.body['job_id']);
    await waitFor(async () => (await fetch(`${api.url}/jobs/${expired}`)).status === 404, "the finished job's record to expire", 10_000);

    // Another body: no 422, since the request the key was first used with is gone with its job.
    const second = await submit('after-expiry', { model: 'echo', prompt: 'second' });
    expect(second.status).toBe(202);
    const fresh = String(second.body['job_id']);
    expect(fresh).not.toBe(expired);
    expect((await job(fresh))['input']).toMatchObject({ prompt: 'second' });

    expect(await submit('after-expiry', { model: 'echo', prompt: 'second' })).toEqual({ status: 200, body: expect.objectContaining({ job_id: fresh }) });
    const reused = await submit('after-expiry', { model: 'echo', prompt: 'first' });
    expect(reused.status).toBe(422);
    expect(reused.body['type']).toBe('/problems/idempotency-key-reused');
  });

  test('in a batch too: two items with a freed key make one new job, and both name it', async () => {
    const item = { model: 'echo', prompt: 'batched', idempotency_key: 'batch-after-expiry' };
    const batch = async () => (await (await post('/jobs/batch', { jobs: [item, item] })).json()) as { jobs: { job_id: string }[] };
    const [expired] = (await batch()).jobs.map((each) => each.job_id);
    await waitFor(async () => (await fetch(`${api.url}/jobs/${expired}`)).status === 404, "the finished job's record to expire", 10_000);

    const ids = (await batch()).jobs.map((each) => each.job_id);
    expect(ids[0]).not.toBe(expired);
    expect(ids[1]).toBe(ids[0]);
    expect((await job(ids[0]!))['id']).toBe(ids[0]);
    expect(await redis.get(`${keys.base}idem:batch-after-expiry`)).toMatch(new RegExp(`^${ids[0]} `));
  });
});
