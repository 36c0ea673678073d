import { createRedis } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

const TOKEN = 'test-admin-token-0123456789';
const prefix = uniquePrefix('control');
let api: ApiProcess;
let openApi: ApiProcess;
const workers: WorkerProcess[] = [];
const admin = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

beforeAll(async () => {
  const redisUrl = inject('redisUrl');
  [api, openApi] = await Promise.all([startApi({ redisUrl, prefix, env: { ADMIN_TOKEN: TOKEN } }), startApi({ redisUrl, prefix })]);
  workers.push(...(await Promise.all([1, 2, 3].map(() => startWorker({ redisUrl, prefix, env: { MAINTENANCE_INTERVAL: '200ms' } })))));
});

afterAll(async () => {
  await Promise.all([api?.stop(), openApi?.stop(), ...workers.map((worker) => worker.stop())]);
  const redis = createRedis(inject('redisUrl'), { role: 'command', name: 'cleanup' });
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

const received = (worker: WorkerProcess, type: string) => worker.logs().filter((line) => line['msg'] === 'control message received' && line['type'] === type);

describe('admin endpoints', () => {
  test('without ADMIN_TOKEN they do not exist (404, whatever the body); with it they need the bearer token (401)', async () => {
    for (const [method, path] of [['POST', '/admin/broadcast'], ['POST', '/queues/inference/pause'], ['POST', '/queues/inference/resume']] as const) {
      const absent = await fetch(`${openApi.url}${path}`, { method, headers: admin, body: '{"not":"valid"' });
      expect(absent.status, path).toBe(404);
      const noToken = await fetch(`${api.url}${path}`, { method, headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(noToken.status, path).toBe(401);
      expect(noToken.headers.get('www-authenticate')).toContain('Bearer');
      const wrong = await fetch(`${api.url}${path}`, { method, headers: { ...admin, authorization: 'Bearer wrong-token-wrong-token' }, body: '{}' });
      expect(wrong.status, path).toBe(401);
    }
  });
});

describe('broadcast to the fleet', () => {
  test('one POST /admin/broadcast reaches each of 3 running workers exactly once, and each acts on it', async () => {
    const response = await fetch(`${api.url}/admin/broadcast`, {
      method: 'POST',
      headers: { ...admin, 'x-request-id': 'broadcast-1' },
      body: JSON.stringify({ type: 'invalidate-model-cache', model: 'embed' }),
    });
    expect(response.status).toBe(202);
    expect(((await response.json()) as { delivered_to: number }).delivered_to).toBe(3);
    // The API's log line for it carries the request's ID (request loggers are made when first used).
    await waitFor(() => api.logs().some((line) => line['msg'] === 'broadcast to the workers'), 'the API to log the broadcast');
    expect(api.logs().find((line) => line['msg'] === 'broadcast to the workers')).toMatchObject({ reqId: 'broadcast-1', delivered_to: 3 });
    await waitFor(() => workers.every((worker) => received(worker, 'invalidate-model-cache').length === 1), 'every worker to receive it');
    await sleep(300);
    for (const worker of workers) expect(received(worker, 'invalidate-model-cache')).toEqual([expect.objectContaining({ model: 'embed' })]);

    const unknown = await fetch(`${api.url}/admin/broadcast`, { method: 'POST', headers: admin, body: JSON.stringify({ type: 'reboot' }) });
    expect(unknown.status).toBe(400);
    // A model no one runs is refused, not published to workers that would drop nothing.
    const misspelt = await fetch(`${api.url}/admin/broadcast`, { method: 'POST', headers: admin, body: JSON.stringify({ type: 'invalidate-model-cache', model: 'embedd' }) });
    expect(misspelt.status).toBe(400);
    expect(await misspelt.json()).toMatchObject({ type: '/problems/unknown-model', detail: expect.stringContaining('Model "embedd" is not known'), known_models: expect.arrayContaining(['embed']) });
    await sleep(300);
    for (const worker of workers) expect(received(worker, 'invalidate-model-cache')).toHaveLength(1);
  });

  test("the seed's cache invalidation works as written: one PUBLISH from any Redis client, every worker reacts", async () => {
    const redis = createRedis(inject('redisUrl'), { role: 'command', name: 'publisher' });
    try {
      const before = workers.map((worker) => received(worker, 'invalidate-model-cache').length);
      expect(await redis.publish(`${prefix}:models:invalidate`, 'sentiment:v2')).toBe(3);
      await waitFor(() => workers.every((worker, i) => received(worker, 'invalidate-model-cache').length === before[i]! + 1), 'every worker to react');
      for (const worker of workers) expect(received(worker, 'invalidate-model-cache').at(-1)).toMatchObject({ model: 'sentiment', received: 'sentiment:v2' });
      // The seed's other form: JSON with the model, its version and a timestamp.
      const json = JSON.stringify({ model: 'embed', version: 'v3', timestamp: 1733400000.5 });
      expect(await redis.publish(`${prefix}:models:invalidate`, json)).toBe(3);
      await waitFor(() => workers.every((worker, i) => received(worker, 'invalidate-model-cache').length === before[i]! + 2), 'every worker to react to the JSON form');
      for (const worker of workers) expect(received(worker, 'invalidate-model-cache').at(-1)).toMatchObject({ model: 'embed', dropped: ['sentiment', 'summarize', 'embed', 'language'], received: json });
      // Broken JSON is ignored with a warning, not read as a model named '{"model"'.
      expect(await redis.publish(`${prefix}:models:invalidate`, '{"model":')).toBe(3);
      await waitFor(() => workers.every((worker) => worker.logs().some((line) => line['msg'] === 'ignored a model invalidation that is not JSON')), 'every worker to ignore broken JSON');
      for (const [i, worker] of workers.entries()) expect(received(worker, 'invalidate-model-cache')).toHaveLength(before[i]! + 2);
    } finally {
      redis.disconnect();
    }
  });
});

describe('pause and resume', () => {
  test('pausing a queue stops intake within a second; the state survives a worker restart; resuming restarts it', async () => {
    const post = async () =>
      ((await (await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo"}' })).json()) as { job_id: string }).job_id;
    const statusOf = async (id: string) => ((await (await fetch(`${api.url}/jobs/${id}`)).json()) as { status: string }).status;

    const paused = await fetch(`${api.url}/queues/inference/pause`, { method: 'POST', headers: admin, body: '{}' });
    expect(await paused.json()).toEqual({ queue: 'inference', paused: ['*'] });
    await sleep(1_000);
    const waiting = await post();
    await sleep(1_500);
    expect(await statusOf(waiting)).toBe('queued');

    // A worker started now reads the pause from Redis.
    workers.push(await startWorker({ redisUrl: inject('redisUrl'), prefix }));
    await sleep(800);
    expect(await statusOf(waiting)).toBe('queued');

    const resumedAt = Date.now();
    const resumed = await fetch(`${api.url}/queues/inference/resume`, { method: 'POST', headers: admin, body: '{}' });
    expect(await resumed.json()).toEqual({ queue: 'inference', paused: [] });
    await waitFor(async () => (await statusOf(waiting)) === 'completed', 'the job to run after resume', 3_000);
    console.log(`job ran ${Date.now() - resumedAt} ms after resume`);

    // One stage only: documents:summarize paused, extract still runs.
    await fetch(`${api.url}/queues/documents/pause`, { method: 'POST', headers: admin, body: '{"stage":"summarize"}' });
    await sleep(1_000);
    const form = new FormData();
    form.append('file', new Blob(['One sentence. Another sentence.']), 'a.txt');
    const { job_id } = (await (await fetch(`${api.url}/documents`, { method: 'POST', body: form })).json()) as { job_id: string };
    await waitFor(async () => {
      const job = (await (await fetch(`${api.url}/jobs/${job_id}`)).json()) as { stage: string; status: string };
      return job.stage === 'summarize' && job.status === 'queued';
    }, 'extract to finish while summarize is paused');
    await sleep(1_000);
    expect(await statusOf(job_id)).toBe('queued');
    expect((await fetch(`${api.url}/queues/documents/pause`, { method: 'POST', headers: admin, body: '{"stage":"ocr"}' })).status).toBe(400);
    await fetch(`${api.url}/queues/documents/resume`, { method: 'POST', headers: admin, body: '{"stage":"summarize"}' });
    await waitFor(async () => (await statusOf(job_id)) === 'completed', 'summarize to run after resume', 3_000);
  });
});
