import { createRedis, QueueKeys } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { apiJobs } from './api-jobs.js';

// Redis must not grow with the number of jobs: once every job has finished and JOB_RETENTION has
// passed, what is left is the same few keys however many jobs went through. Short retention and
// history windows make that moment come within seconds.
const prefix = uniquePrefix('e2e-keyspace');
const ADMIN_TOKEN = 'keyspace-admin-token';
const env = {
  JOB_RETENTION: '5s',
  STREAM_HISTORY: '300ms',
  TRIM_INTERVAL: '100ms',
  MAINTENANCE_INTERVAL: '100ms',
  CONSUMER_RETENTION: '1s',
  ADMIN_TOKEN,
};
let api: ApiProcess;
let worker: WorkerProcess;
let redis: Redis;
const { post, job } = apiJobs(() => api.url);

beforeAll(async () => {
  const redisUrl = inject('redisUrl');
  redis = createRedis(redisUrl, { role: 'command', name: 'keyspace-test' });
  [api, worker] = await Promise.all([startApi({ redisUrl, prefix, env }), startWorker({ redisUrl, prefix, env: { ...env, CONSUMER_NAME: 'keyspace-first' } })]);
});

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

/** The job ID of a submission answered 202 (or 200 for a reused idempotency key). */
const accepted = async (sent: Promise<Response>): Promise<string> => {
  const response = await sent;
  const text = await response.text();
  expect(response.status, text).toBeLessThan(300);
  return (JSON.parse(text) as { job_id: string }).job_id;
};

/**
 * The status each job ends with, polled from the moment it is called: a record expires
 * JOB_RETENTION after its job ends, so a job is looked at until it ends and no longer.
 */
async function finished(ids: string[]): Promise<string[]> {
  const ended = new Map<string, string>();
  await waitFor(
    async () => {
      const open = ids.filter((id) => !ended.has(id));
      const records = await Promise.all(open.map(job));
      records.forEach((record, i) => {
        if (['completed', 'dead', 'cancelled'].includes(record['status'] as string)) ended.set(open[i]!, record['status'] as string);
      });
      return ended.size === new Set(ids).size;
    },
    `${ids.length} jobs to finish`,
    30_000,
    50,
  );
  return ids.map((id) => ended.get(id)!);
}

/** One of everything a job can go through, through the API as clients send it, and a job XADDed by another producer. */
async function workload(round: number): Promise<string[]> {
  const fast = { type: 'fixed', delay_ms: 20 };
  const watched: Promise<string[]>[] = [];
  // A dashboard listening meanwhile: the scripts then publish every event as well.
  const listening = new AbortController();
  const events = await fetch(`${api.url}/events?queue=inference`, { signal: listening.signal });
  expect(events.status).toBe(200);
  let heard = '';
  const reader = events.body!.getReader();
  const decoder = new TextDecoder();
  const eventsRead = (async () => {
    for (let read = await reader.read(); !read.done; read = await reader.read()) heard += decoder.decode(read.value, { stream: true });
  })().catch(() => {});
  const ids = await Promise.all([
    ...Array.from({ length: 10 }, () => accepted(post('/jobs', { model: 'echo', prompt: 'plain', user_id: '12345', metadata: { round: String(round) } }))),
    accepted(post('/jobs', { model: 'echo', prompt: 'once', params: { fail: 1 }, backoff: fast })),
    accepted(post('/jobs', { model: 'echo', prompt: 'later', delay_ms: 200, priority: 'high' })),
    accepted(post('/jobs', { model: 'echo', prompt: 'halfway', params: { sleep_ms: 100, progress: true } })),
    accepted(post('/jobs', { model: 'echo', prompt: 'keyed' }, { 'content-type': 'application/json', 'idempotency-key': `round-${round}` })),
    accepted(post('/jobs', { model: 'echo', prompt: 'keyed' }, { 'content-type': 'application/json', 'idempotency-key': `round-${round}` })),
  ]);
  const batch = await post('/jobs/batch', { jobs: Array.from({ length: 20 }, (_, i) => ({ model: 'echo', prompt: `batch ${i}`, priority: (['high', 'normal', 'low'] as const)[i % 3] })) });
  expect(batch.status).toBe(202);
  ids.push(...((await batch.json()) as { jobs: { job_id: string }[] }).jobs.map((item) => item.job_id));
  watched.push(finished(ids));

  const form = new FormData();
  form.append('file', new Blob(['Queues keep work safe. Workers take it in turn. Redis holds the state of every job until it expires.']), 'notes.txt');
  const entry = await redis.xadd(new QueueKeys(prefix, 'inference').stream('infer', 'normal'), '*', 'model', 'echo', 'prompt', 'from another producer');
  watched.push(finished([await accepted(fetch(`${api.url}/documents`, { method: 'POST', body: form })), `inference:${entry}`]));

  // A job that dies, retried from the dead list, dies again.
  const dying = await accepted(post('/jobs', { model: 'echo', prompt: 'dies', params: { fail: 'always' }, max_attempts: 2, backoff: fast }));
  await waitFor(async () => (await job(dying))['status'] === 'dead', 'the failing job to die', 10_000);
  expect((await fetch(`${api.url}/jobs/${dying}/retry`, { method: 'POST' })).status).toBe(202);
  watched.push(finished([dying]));

  // Cancelled while running, and while delayed.
  const running = await accepted(post('/jobs', { model: 'echo', prompt: 'long', params: { sleep_ms: 10_000 } }));
  await waitFor(async () => (await job(running))['status'] === 'active', 'the long job to start', 10_000);
  const waiting = await accepted(post('/jobs', { model: 'echo', prompt: 'never', delay_ms: 60_000 }));
  for (const id of [running, waiting]) expect((await fetch(`${api.url}/jobs/${id}`, { method: 'DELETE' })).status).toBe(200);
  watched.push(finished([running, waiting]));

  // A queue paused and resumed.
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
  for (const action of ['pause', 'resume']) expect((await fetch(`${api.url}/queues/inference/${action}`, { method: 'POST', headers: admin, body: '{}' })).status).toBe(200);

  const statuses = (await Promise.all(watched)).flat();
  listening.abort();
  await eventsRead;
  expect(heard).toMatch(/event: completed/);
  return statuses;
}

/** Every key of the test's prefix that has no expiry, with its type and, for a stream, its length. */
async function lastingKeys(): Promise<Map<string, string>> {
  const lasting = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
    cursor = next;
    for (const key of keys) {
      if ((await redis.pttl(key)) !== -1) continue;
      const type = await redis.type(key);
      lasting.set(key, type === 'stream' ? `stream of ${await redis.xlen(key)}` : type);
    }
  } while (cursor !== '0');
  return lasting;
}

/** Waits until every record has expired and every stream is trimmed to its group's position. */
async function settledKeys(): Promise<Map<string, string>> {
  let left = '';
  return waitFor(
    async () => {
      const [, records] = await redis.scan('0', 'MATCH', `${prefix}:*:job:*`, 'COUNT', 100_000);
      const lasting = await lastingKeys();
      const unsettled = [...lasting].filter(([, kind]) => kind !== 'stream of 0' && kind !== 'stream of 1');
      left = `${records.length} records, and without an expiry: ${unsettled.map(([key, kind]) => `${key} (${kind})`).join(', ') || 'nothing unsettled'}`;
      return records.length === 0 && unsettled.length === 0 && lasting;
    },
    'the records to expire and the streams to be trimmed',
    20_000,
    100,
  ).catch((error: Error) => {
    throw new Error(`${error.message}; left: ${left}`);
  });
}

describe('the keyspace once jobs have finished and expired', () => {
  test('holds only the stage streams and the dead stream, trimmed, and the same keys after a second round of jobs and a replaced worker', async () => {
    const first = await workload(1);
    expect(first).toEqual([...Array<string>(37).fill('completed'), 'dead', 'cancelled', 'cancelled']);
    const afterFirst = await settledKeys();
    // Streams only: no index (queued, active, delayed), pause flag or record is left without an expiry.
    const streams = new Set([...afterFirst.keys()].map((key) => key.slice(prefix.length + 1)));
    for (const key of streams) expect(key).toMatch(/^\{[a-z-]+\}:[a-z-]+:(high|normal|low)$|^\{inference\}:dead$/);
    expect(streams).toContain('{inference}:dead');
    expect(streams).toContain('{documents}:embed:normal');

    // A new worker replaces the first: the old one's consumers leave the groups once idle for CONSUMER_RETENTION.
    const redisUrl = inject('redisUrl');
    const replacement = await startWorker({ redisUrl, prefix, env: { ...env, CONSUMER_NAME: 'keyspace-second' } });
    await worker.stop();
    worker = replacement;

    const second = await workload(2);
    expect(second).toEqual(first);
    const afterSecond = await settledKeys();
    expect([...afterSecond.keys()].sort()).toEqual([...afterFirst.keys()].sort());

    const streamsWithGroups = [...afterSecond.keys()].filter((key) => !key.endsWith(':dead'));
    await waitFor(
      async () => {
        for (const stream of streamsWithGroups) {
          for (const group of (await redis.xinfo('GROUPS', stream)) as unknown[][]) {
            const consumers = (await redis.xinfo('CONSUMERS', stream, String(group[1]))) as unknown[][];
            if (consumers.some((consumer) => consumer[1] !== 'keyspace-second')) return false;
          }
        }
        return true;
      },
      "the replaced worker's consumers to leave every group",
      20_000,
      100,
    );
  });
});
