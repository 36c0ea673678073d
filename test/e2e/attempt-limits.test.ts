import { deletePrefixAt, readSseEvents, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
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

/**
 * A delayed job gets its record when it is submitted, and its own options are stored with it
 * there (a document's too): none of them was checked, so losing them went unseen. The retry's
 * wait also checks that the worker hands the backoff the attempt that failed: exponential from
 * 2 s, the first retry waits 1–2 s (equal jitter), not the 2–4 s of the second.
 */
test('a delayed job keeps its own max_attempts, backoff and timeout_ms, and its events say when it is queued again after each wait', { timeout: 40_000 }, async () => {
  const failing = (await (await post('/jobs', { model: 'echo', prompt: 'fails', params: { fail: 'always' }, delay_ms: 100, max_attempts: 2, backoff: { type: 'exponential', delay_ms: 2_000 } })).json()) as { job_id: string };
  const slow = (await (await post('/jobs', { model: 'echo', prompt: 'slow', params: { sleep_ms: 5_000 }, delay_ms: 100, max_attempts: 1, timeout_ms: 300 })).json()) as { job_id: string };
  const events = fetch(`${api.url}/jobs/${failing.job_id}/events`).then((response) => readSseEvents(response.body!));

  const retrying = await waitFor(async () => {
    const record = await job(failing.job_id);
    return record['status'] === 'retrying' && record;
  }, 'the first failure');
  const [failure] = retrying['errors'] as { at: string }[];
  const wait = Date.parse(retrying['retry_at'] as string) - Date.parse(failure!.at);
  expect(wait).toBeGreaterThanOrEqual(1_000);
  expect(wait).toBeLessThanOrEqual(2_000);
  const [dead] = await settled([failing.job_id], 'dead');
  // Its own 2, not the worker's MAX_ATTEMPTS of 3.
  expect(dead).toMatchObject({ attempts: 2, max_attempts: 2 });

  const [timedOut] = await settled([slow.job_id], 'dead');
  expect(timedOut).toMatchObject({ attempts: 1, max_attempts: 1, error: expect.objectContaining({ code: 'TIMEOUT' }) });

  // Delayed when the stream opened, then queued when due; retrying, then queued again when its
  // wait is over.
  const seen = await events;
  expect(seen[0]).toMatchObject({ event: 'state', data: { status: 'delayed' } });
  expect(seen.map((event) => event.event).filter((name) => ['retrying', 'queued', 'dead'].includes(name))).toEqual(['queued', 'retrying', 'queued', 'dead']);
});
