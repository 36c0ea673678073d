import { createRedis } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { apiJobs } from './api-jobs.js';

// At `debug`, every transition of a job has its log line with the job's ID: created (queued or
// delayed) and cancelled or retried from the dead list in the API; queued after a delay, active,
// completed, failed and dead-lettered in a worker.
const TOKEN = 'transition-logs-admin-token';
const prefix = uniquePrefix('transition-logs');
let api: ApiProcess;
let quietApi: ApiProcess;
let worker: WorkerProcess;
const { post, job, settled } = apiJobs(() => api.url);
const admin = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
  const redisUrl = inject('redisUrl');
  [api, quietApi, worker] = await Promise.all([
    startApi({ redisUrl, prefix, env: { LOG_LEVEL: 'debug', ADMIN_TOKEN: TOKEN } }),
    startApi({ redisUrl, prefix }),
    startWorker({ redisUrl, prefix, env: { LOG_LEVEL: 'debug', MAINTENANCE_INTERVAL: '200ms' } }),
  ]);
});

afterAll(async () => {
  await Promise.all([api?.stop(), quietApi?.stop(), worker?.stop()]);
  const redis = createRedis(inject('redisUrl'), { role: 'command', name: 'cleanup' });
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

/** The messages logged for `jobId`, in order. */
const linesOf = (process: ApiProcess | WorkerProcess, jobId: string) => process.logs().filter((line) => line['job_id'] === jobId);
const messagesOf = (process: ApiProcess | WorkerProcess, jobId: string) => linesOf(process, jobId).map((line) => line['msg']);

test('each transition of a job is one log line with its ID: created and the wait, run and outcome', async () => {
  const delayed = (await (await post('/jobs', { model: 'echo', prompt: 'later', delay_ms: 300 })).json()) as { job_id: string };
  const batch = (await (await post('/jobs/batch', { jobs: [{ model: 'echo' }, { model: 'echo' }] })).json()) as { jobs: { job_id: string }[] };
  const form = new FormData();
  form.append('file', new Blob(['A short note.']), 'note.txt');
  const document = (await (await fetch(`${api.url}/documents`, { method: 'POST', body: form, headers: { 'x-request-id': 'upload-1' } })).json()) as { job_id: string };
  const ids = [delayed.job_id, ...batch.jobs.map((item) => item.job_id)];
  await settled(ids);
  await waitFor(() => linesOf(api, document.job_id).length > 0, 'the API to log the upload');
  expect(linesOf(api, delayed.job_id)).toEqual([expect.objectContaining({ level: 20, msg: 'job created', status: 'delayed' })]);
  for (const item of batch.jobs) expect(linesOf(api, item.job_id)).toEqual([expect.objectContaining({ msg: 'job created', status: 'queued' })]);
  expect(linesOf(api, document.job_id)).toEqual([expect.objectContaining({ msg: 'job created', status: 'queued', reqId: 'upload-1' })]);
  await waitFor(() => messagesOf(worker, delayed.job_id).length === 3, 'the worker to log the delayed job three times');
  // The promotion's line is written when its script answers on the worker's command connection;
  // the run starts from a read on another connection, and its line may come first.
  const delayedMessages = messagesOf(worker, delayed.job_id);
  expect([...delayedMessages].sort()).toEqual(['job active', 'job completed', 'job queued after its delay']);
  expect(delayedMessages.indexOf('job completed')).toBeGreaterThan(delayedMessages.indexOf('job active'));
  for (const item of batch.jobs) expect(messagesOf(worker, item.job_id)).toEqual(['job active', 'job completed']);

  // At the default level the API logs no line per job it creates.
  const quiet = (await (await fetch(`${quietApi.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo"}' })).json()) as { job_id: string };
  await settled([quiet.job_id]);
  expect(linesOf(quietApi, quiet.job_id)).toEqual([]);
});

test('a dead job queued again, by its ID or with its queue, and a cancelled job each have their line', async () => {
  const failing = (await (await post('/jobs', { model: 'echo', params: { fail: 'always' }, max_attempts: 1 })).json()) as { job_id: string };
  await settled([failing.job_id], 'dead');
  expect((await fetch(`${api.url}/jobs/${failing.job_id}/retry`, { method: 'POST' })).status).toBe(202);
  await waitFor(async () => (await job(failing.job_id))['attempts'] === 1 && (await job(failing.job_id))['status'] === 'dead' && messagesOf(worker, failing.job_id).filter((msg) => msg === 'job dead-lettered').length === 2, 'the retried job to die again');
  const retried = await fetch(`${api.url}/queues/inference/dead/retry`, { method: 'POST', headers: admin });
  expect(await retried.json()).toMatchObject({ retried: 1, skipped: [] });
  await waitFor(() => linesOf(api, failing.job_id).length === 3, 'the API to log both retries');
  expect(linesOf(api, failing.job_id).map((line) => [line['msg'], line['level']])).toEqual([
    ['job created', 20],
    ['dead job queued again', 30],
    ['dead job queued again', 30],
  ]);
  await waitFor(() => messagesOf(worker, failing.job_id).filter((msg) => msg === 'job dead-lettered').length === 3, 'the job to die a third time');
  // Three runs, each logged active and then dead-lettered. A run's dead-lettered line is written
  // once its script has answered, on another connection than the read that starts the next run, so
  // the next run's active line may come before it: the k-th dead-lettered line follows the k-th
  // active one.
  const messages = messagesOf(worker, failing.job_id);
  expect([...messages].sort()).toEqual([...Array(3).fill('job active'), ...Array(3).fill('job dead-lettered')]);
  const indexes = (msg: string) => messages.flatMap((each, index) => (each === msg ? [index] : []));
  const [active, dead] = [indexes('job active'), indexes('job dead-lettered')];
  for (const [run, deadAt] of dead.entries()) expect(deadAt).toBeGreaterThan(active[run]!);

  const later = (await (await post('/jobs', { model: 'echo', delay_ms: 60_000 })).json()) as { job_id: string };
  expect((await fetch(`${api.url}/jobs/${later.job_id}`, { method: 'DELETE' })).status).toBe(200);
  // A line reaches the test through a pipe, maybe after the answer.
  await waitFor(() => linesOf(api, later.job_id).length === 2, 'the API to log the cancel');
  expect(linesOf(api, later.job_id).map((line) => [line['msg'], line['level']])).toEqual([
    ['job created', 20],
    ['job cancelled', 30],
  ]);
});

test('retrying a queue\'s dead jobs retries each one once, though each dies again while the call goes on', async () => {
  const failing = (await (await post('/jobs/batch', { jobs: Array.from({ length: 200 }, () => ({ model: 'echo', params: { fail: 'always' }, max_attempts: 1 })) })).json()) as { jobs: { job_id: string }[] };
  const ids = failing.jobs.map((item) => item.job_id);
  await settled(ids, 'dead');
  const dead = async () => ((await (await fetch(`${api.url}/queues/inference/dead?limit=500`)).json()) as { jobs: { job_id: string }[] }).jobs.map((item) => item.job_id);
  // The earlier test's job is dead too.
  const before = await dead();
  expect(before).toEqual(expect.arrayContaining(ids));
  const retried = await fetch(`${api.url}/queues/inference/dead/retry`, { method: 'POST', headers: admin });
  expect(await retried.json()).toMatchObject({ retried: before.length, skipped: [] });
  await waitFor(async () => (await dead()).length === before.length && (await Promise.all(ids.map(job))).every((record) => record['status'] === 'dead'), 'the jobs to die again');
  for (const id of ids) expect(messagesOf(worker, id).filter((msg) => msg === 'job dead-lettered')).toHaveLength(2);
});
