import { createRedis } from '@conveyor/shared';
import { RedisServer, startApi, startWorker, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { readmeAclRules } from './readme-acl.js';

/**
 * The README's least-privilege ACL user, taken from the README itself, on a Redis whose default
 * user then needs a password: the API and a worker run everything a deployment does with it.
 */
const admin = { token: 'acl-test-admin-token-0123' };
let server: RedisServer;
let api: ApiProcess;
let worker: WorkerProcess;

beforeAll(async () => {
  server = await RedisServer.start();
  const root = createRedis(server.url, { role: 'command', name: 'acl-setup' });
  await root.call('ACL', 'SETUSER', 'conveyor', ...readmeAclRules().map((rule) => (rule === '>password' ? '>acl-secret' : rule)));
  await root.config('SET', 'requirepass', 'root-secret');
  root.disconnect();
  const redisUrl = `redis://conveyor:acl-secret@127.0.0.1:${server.port}`;
  const env = { TRIM_INTERVAL: '200ms', STREAM_HISTORY: '100ms', MAINTENANCE_INTERVAL: '100ms' };
  [api, worker] = await Promise.all([
    startApi({ redisUrl, prefix: 'conveyor', env: { ADMIN_TOKEN: admin.token } }),
    startWorker({ redisUrl, prefix: 'conveyor', env }),
  ]);
});

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  await server?.stop();
});

test("the README's ACL user is enough for jobs, documents, pause and resume, broadcasts, history and trimming", async () => {
  const bearer = { authorization: `Bearer ${admin.token}`, 'content-type': 'application/json' };
  const post = (path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    fetch(`${api.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  const statusOf = async (id: string) => ((await (await fetch(`${api.url}/jobs/${id}`)).json()) as { status: string }).status;

  const { job_id: plain } = (await (await post('/jobs', { model: 'echo', prompt: 'acl' })).json()) as { job_id: string };
  await waitFor(async () => (await statusOf(plain)) === 'completed', 'a job to complete');

  // One stage of a queue paused: the worker blocks on the other stages' streams. Resuming it must
  // wake that read at once (CLIENT UNBLOCK), not after it times out on its own (BLOCK_MS, 5 s).
  expect((await post('/queues/documents/pause', { stage: 'extract' }, bearer)).status).toBe(200);
  const form = new FormData();
  form.append('file', new Blob(['Workers take jobs from Redis Streams. Nothing is lost when one crashes.']), 'a.txt');
  const { job_id: document } = (await (await fetch(`${api.url}/documents`, { method: 'POST', body: form })).json()) as { job_id: string };
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  expect(await statusOf(document)).toBe('queued');
  expect((await post('/queues/documents/resume', { stage: 'extract' }, bearer)).status).toBe(200);
  await waitFor(async () => (await statusOf(document)) !== 'queued', 'the document to be taken after resume', 2_000);
  await waitFor(async () => (await statusOf(document)) === 'completed', 'the document to go through its four stages', 30_000);

  const broadcast = await post('/admin/broadcast', { type: 'invalidate-model-cache' }, bearer);
  expect(await broadcast.json()).toMatchObject({ delivered_to: 1 });
  const history = await fetch(`${api.url}/queues/inference/history`, { headers: bearer });
  expect(history.status).toBe(200);
  const more = await Promise.all(Array.from({ length: 4 }, async () => ((await (await post('/jobs', { model: 'echo' })).json()) as { job_id: string }).job_id));
  await waitFor(async () => (await Promise.all(more.map(statusOf))).every((status) => status === 'completed'), 'four more jobs to complete');
  // Trimming runs every 200 ms and keeps 100 ms of acknowledged entries: of the five, only the
  // last delivered one stays (the group's position).
  const reader = createRedis(`redis://conveyor:acl-secret@127.0.0.1:${server.port}`, { role: 'command', name: 'acl-check' });
  try {
    await waitFor(async () => (await reader.xlen('conveyor:{inference}:infer:normal')) === 1, 'the inference stream to be trimmed');
  } finally {
    reader.disconnect();
  }

  // Nothing was refused: the only warning is that CONFIG (for maxmemory-policy) is not allowed.
  const complaints = [...api.logs(), ...worker.logs()].filter((line) => Number(line['level']) >= 40 && !String(line['msg']).includes('maxmemory-policy'));
  expect(complaints).toEqual([]);
});
