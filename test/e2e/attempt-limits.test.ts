import { deletePrefixAt, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { apiJobs } from './api-jobs.js';

/**
 * MAX_ATTEMPTS is applied by the workers. An API started with another value (set on one
 * deployment and not the other) showed its own as `max_attempts`: "retrying, attempts 2 of 1",
 * then "dead, attempts 3 of 1". A job without a limit of its own now keeps the limit of the
 * worker that judged its first failure, and every view of it shows that one.
 */
const prefix = uniquePrefix('attempt-limits');
let api: ApiProcess;
let worker: WorkerProcess;
const { post, job, settled } = apiJobs(() => api.url);

beforeAll(async () => {
  const redisUrl = inject('redisUrl');
  [api, worker] = await Promise.all([
    startApi({ redisUrl, prefix, env: { MAX_ATTEMPTS: '1' } }),
    startWorker({ redisUrl, prefix, env: { MAX_ATTEMPTS: '3', WORKER_STAGES: 'inference' } }),
  ]);
});

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  await deletePrefixAt(inject('redisUrl'), prefix);
});

test('a job without its own limit shows the limit its failures are judged by, not the API\'s MAX_ATTEMPTS', { timeout: 30_000 }, async () => {
  const response = await post('/jobs', { model: 'echo', prompt: 'fails', params: { fail: 'always' }, backoff: { type: 'fixed', delay_ms: 300 } });
  const { job_id } = (await response.json()) as { job_id: string };
  // Before any failure only the API's own setting is known.
  const retrying = await waitFor(async () => {
    const record = await job(job_id);
    return record['status'] === 'retrying' && record;
  }, 'the first failure');
  expect(retrying).toMatchObject({ attempts: 1, max_attempts: 3 });
  const [dead] = await settled([job_id], 'dead');
  expect(dead).toMatchObject({ status: 'dead', attempts: 3, max_attempts: 3 });
  expect((dead!['errors'] as unknown[]).length).toBe(3);

  // Retried from the dead letters, it is judged by the workers' MAX_ATTEMPTS of then.
  await worker.stop();
  worker = await startWorker({ redisUrl: inject('redisUrl'), prefix, env: { MAX_ATTEMPTS: '2', WORKER_STAGES: 'inference' } });
  expect((await post(`/jobs/${job_id}/retry`, {})).status).toBe(202);
  const [again] = await settled([job_id], 'dead');
  expect(again).toMatchObject({ status: 'dead', attempts: 2, max_attempts: 2 });
});

test('a job with its own limit keeps it', { timeout: 30_000 }, async () => {
  const response = await post('/jobs', { model: 'echo', prompt: 'fails twice', params: { fail: 'always' }, max_attempts: 2, backoff: { type: 'fixed', delay_ms: 300 } });
  const { job_id } = (await response.json()) as { job_id: string };
  expect(await job(job_id)).toMatchObject({ max_attempts: 2 });
  const [dead] = await settled([job_id], 'dead');
  expect(dead).toMatchObject({ attempts: 2, max_attempts: 2 });
});
