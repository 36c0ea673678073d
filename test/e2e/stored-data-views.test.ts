import { createRedis, QueueKeys } from '@conveyor/shared';
import type { Redis } from 'ioredis';
import { deletePrefix, readSseEvents, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type SseEvent, type WorkerProcess } from '@conveyor/testing';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';

/**
 * Any Redis client may XADD to the stage streams (README, Producing jobs from any Redis client),
 * and to the dead streams: what the API shows of such entries (GET /jobs/:id, its events, the
 * dead letters, the history) is a 2xx, however odd the entry, never a 500 or a stream left
 * hanging. Here the API runs without a worker, so the entries stay as they were written.
 */
const prefix = uniquePrefix('stored');
const TOKEN = 'stored-data-views-admin-token';
let api: ApiProcess;
let producer: Redis;
const inference = new QueueKeys(prefix, 'inference');
const documents = new QueueKeys(prefix, 'documents');

beforeAll(async () => {
  const redisUrl = inject('redisUrl');
  // One event stream at a time: a stream that is not ended would keep the only place.
  api = await startApi({ redisUrl, prefix, env: { ADMIN_TOKEN: TOKEN, MAX_EVENT_STREAMS: '1', SSE_HEARTBEAT: '200ms' } });
  producer = createRedis(redisUrl, { role: 'command', name: 'stored-data-producer' });
}, 60_000);

afterAll(async () => {
  await api?.stop();
  await deletePrefix(producer, prefix);
  producer?.disconnect();
});

const get = (path: string) => fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });

/** The answer's JSON, once its status is checked (the body is in the message when it is not). */
async function ok(path: string): Promise<Record<string, unknown>> {
  const response = await get(path);
  const text = await response.text();
  expect(response.status, `${path}: ${text.slice(0, 500)}\n${api.describe()}`).toBe(200);
  return JSON.parse(text) as Record<string, unknown>;
}

/**
 * A job's event stream, read until it ends or `until` says stop, calling `onEvent` on each event.
 * Opened again while the API answers 503 (the one place still held by a stream being closed).
 */
async function readEvents(base: string, jobId: string, { until, onEvent }: { until?: (events: SseEvent[]) => boolean; onEvent?: (event: SseEvent) => void } = {}): Promise<SseEvent[]> {
  const signal = AbortSignal.timeout(10_000);
  const response = await waitFor(async () => {
    const answer = await fetch(`${base}/jobs/${encodeURIComponent(jobId)}/events`, { signal });
    if (answer.status === 503) return void (await answer.body?.cancel());
    return answer;
  }, 'an event stream place', 5_000);
  expect(response.status, await (response.status === 200 ? '' : response.clone().text())).toBe(200);
  return readSseEvents(response.body!, { until, onEvent });
}

/** JSON arrays nested `levels` deep: JSON.parse reads them, JSON.stringify runs out of stack. */
const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;

describe('entries other producers wrote, as the API shows them', () => {
  test('an entry ID past what a date can hold (and every `*` ID after it) shows its times as null, in the job, its events, the dead letters and the history', async () => {
    const lane = inference.stream('infer', 'low');
    const far = (await producer.xadd(lane, '8700000000000000-0', 'model', 'echo', 'prompt', 'f'))!;
    const after = (await producer.xadd(lane, '*', 'model', 'echo', 'prompt', 'after'))!;
    expect(after.startsWith('8700000000000000-')).toBe(true);
    for (const entryId of [far, after]) {
      expect(await ok(`/jobs/${encodeURIComponent(`inference:low:${entryId}`)}`)).toMatchObject({ status: 'queued', priority: 'low', created_at: null, updated_at: null });
    }

    const [state] = await readEvents(api.url, `inference:low:${far}`, { until: (events) => events.length > 0 });
    expect(state).toMatchObject({ event: 'state', data: { id: `inference:low:${far}`, status: 'queued', created_at: null } });

    await ok('/queues/inference');
    const history = await ok('/queues/inference/history');
    expect(history['entries']).toEqual(
      expect.arrayContaining([expect.objectContaining({ entry_id: far, lane: 'low', added_at: null, fields: { model: 'echo', prompt: 'f' } })]),
    );

    await producer.xadd(
      inference.dead,
      '*',
      ...['job', `inference:low:${far}`, 'stage', 'infer', 'lane', 'low', 'attempts', '1', 'payload', '{"model":"echo","prompt":"f"}'],
      ...['error', '{"message":"failed","at":8700000000000000}', 'errors', '[{"message":"failed","at":8700000000000000}]', 'created_at', '8700000000000000', 'dead_at', '-8700000000000000'],
    );
    const dead = await ok('/queues/inference/dead');
    expect(dead['jobs']).toEqual([
      { job_id: `inference:low:${far}`, stage: 'infer', priority: 'low', attempts: 1, error: { message: 'failed' }, errors: [{ message: 'failed' }], input: { model: 'echo', prompt: 'f' }, input_truncated: false, created_at: null, dead_at: null },
    ]);
  });

  test('a payload nested too deep to write again shows as its text in the history and the dead letters, and the rest of the list as it is', async () => {
    const deep = `{"model":"echo","prompt":"x","params":{"a":${nested(5000)}}}`;
    const entryId = (await producer.xadd(documents.stream('extract', 'normal'), '*', 'job', 'documents:deep5000', 'payload', deep))!;
    const history = await ok(`/queues/documents/history?from=${entryId}&to=${entryId}`);
    expect(history['entries']).toMatchObject([{ entry_id: entryId, job_id: 'documents:deep5000', fields: { job: 'documents:deep5000', payload: deep } }]);

    const shallow = `{"file":"a.txt","params":{"a":${nested(60)}}}`;
    await producer.xadd(documents.dead, '*', 'job', 'documents:shallow', 'stage', 'extract', 'lane', 'normal', 'attempts', '1', 'payload', shallow, 'error', '{"message":"failed"}');
    await producer.xadd(documents.dead, '*', 'job', 'documents:deep5000', 'stage', 'extract', 'lane', 'normal', 'attempts', '1', 'payload', deep, 'error', `{"message":"failed","detail":${nested(5000)}}`);
    const dead = await ok('/queues/documents/dead');
    expect(dead['jobs']).toMatchObject([
      { job_id: 'documents:deep5000', input: deep, error: null },
      { job_id: 'documents:shallow', input: JSON.parse(shallow) as unknown, error: { message: 'failed' } },
    ]);
  });

  test('an event stream one of whose events cannot be written ends, with a last `stream-error` event, and gives its place back', async () => {
    const jobId = `inference:${(await producer.xadd(inference.stream('infer', 'normal'), '*', 'model', 'echo', 'prompt', 'x'))!}`;
    // Anyone who can PUBLISH on the events channel can send an event JSON.stringify cannot write again.
    const deepEvent = JSON.stringify({ event: 'progress', job_id: jobId, at: 1, detail: 'DETAIL' }).replace('"DETAIL"', nested(5000));
    const events = await readEvents(api.url, jobId, { onEvent: (event) => void (event.event === 'state' && producer.publish(inference.events, deepEvent)) });
    expect(events.map((event) => [event.event, event.id])).toEqual([
      ['state', '1'],
      ['stream-error', 'end'],
    ]);
    expect(events[1]!.data['detail']).toMatch(/"progress" event could not be written/);
    // The one place is free again, and the API still answers.
    const [again] = await readEvents(api.url, jobId, { until: (read) => read.length > 0 });
    expect(again).toMatchObject({ event: 'state', data: { id: jobId, status: 'queued' } });
    expect(api.running, api.describe()).toBe(true);
  });

  test('dead-letter entries with fields that are not what Conveyor writes show those fields as null or leave them out, and the list is still answered', async () => {
    const written = [
      ['job', 'documents:x', 'attempts', 'abc', 'lane', 'weird'],
      ['job', 'documents:y', 'stage', 'extract', 'attempts', '-1', 'error', '{"message":"m","code":5,"retryable":"yes","attempt":"one","stage":["x"],"worker":{},"name":"Err","at":"soon"}', 'errors', '{"message":"not a list"}'],
      ['job', 'documents:z', 'stage', 'extract', 'lane', 'high', 'attempts', '2', 'errors', '[{"message":"first","code":"E1"},"not an error",null,{"message":7}]', 'created_at', 'yesterday'],
      // 1e999 parses as Infinity, a number the answer's schema refuses.
      ['job', 'documents:w', 'stage', 'extract', 'attempts', '1', 'error', '{"message":"boom","attempt":1e999}'],
    ];
    for (const fields of written) await producer.xadd(documents.dead, '*', ...fields);
    const dead = await ok('/queues/documents/dead?limit=4');
    expect(dead['jobs']).toEqual([
      { job_id: 'documents:w', stage: 'extract', priority: 'normal', attempts: 1, error: { message: 'boom' }, errors: [], input: null, input_truncated: false, created_at: null, dead_at: null },
      { job_id: 'documents:z', stage: 'extract', priority: 'high', attempts: 2, error: null, errors: [{ message: 'first', code: 'E1' }], input: null, input_truncated: false, created_at: null, dead_at: null },
      { job_id: 'documents:y', stage: 'extract', priority: 'normal', attempts: null, error: { message: 'm', name: 'Err' }, errors: [], input: null, input_truncated: false, created_at: null, dead_at: null },
      { job_id: 'documents:x', stage: '', priority: null, attempts: null, error: null, errors: [], input: null, input_truncated: false, created_at: null, dead_at: null },
    ]);
  });
});

describe('jobs other producers named, once a worker has run them', () => {
  const workedPrefix = uniquePrefix('worked');
  const keys = new QueueKeys(workedPrefix, 'inference');
  let workedApi: ApiProcess;
  let worker: WorkerProcess;
  beforeAll(async () => {
    const redisUrl = inject('redisUrl');
    [workedApi, worker] = await Promise.all([startApi({ redisUrl, prefix: workedPrefix }), startWorker({ redisUrl, prefix: workedPrefix })]);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([workedApi?.stop(), worker?.stop()]);
    await deletePrefix(producer, workedPrefix);
  });

  /** The job as GET /jobs/:id shows it, once it is completed or dead. */
  const finished = (jobId: string) =>
    waitFor(async () => {
      const response = await fetch(`${workedApi.url}/jobs/${encodeURIComponent(jobId)}`);
      if (response.status >= 500) throw new Error(`GET /jobs/:id answered ${response.status}: ${await response.text()}`);
      const job = (await response.json()) as Record<string, unknown>;
      return (job['status'] === 'dead' || job['status'] === 'completed') && job;
    }, `${jobId} to finish`, 20_000);

  test('a payload nested too deep to write again shows as its text: the job, its events and the dead letters', async () => {
    const deep = `{"model":"echo","prompt":"x","params":{"a":${nested(5000)}}}`;
    await producer.xadd(keys.stream('infer', 'normal'), '*', 'job', 'inference:deep5000', 'payload', deep);
    expect(await finished('inference:deep5000')).toMatchObject({ id: 'inference:deep5000', input: deep });

    const events = await readEvents(workedApi.url, 'inference:deep5000');
    expect(events).toMatchObject([{ id: 'end', event: 'state', data: { id: 'inference:deep5000', input: deep } }]);

    // The worker dead-letters it (INVALID_PARAMS): the queue's dead letters show it too.
    const dead = await fetch(`${workedApi.url}/queues/inference/dead`);
    expect(dead.status, await dead.clone().text()).toBe(200);
    expect(((await dead.json()) as { jobs: unknown[] }).jobs).toEqual(expect.arrayContaining([expect.objectContaining({ job_id: 'inference:deep5000', input: deep })]));
  });

  test('the Location of a job is percent-encoded where a header cannot hold its ID or a path would misread it, and leads to the job', async () => {
    const ids = { 'inference:€x': '/jobs/inference:%E2%82%ACx', 'inference:a/b?c#d%e': '/jobs/inference:a%2Fb%3Fc%23d%25e' };
    for (const jobId of Object.keys(ids)) {
      await producer.xadd(keys.stream('infer', 'normal'), '*', 'job', jobId, 'payload', '{"model":"echo","prompt":"x","params":{"fail":"always"}}', 'opts', '{"max_attempts":1}');
    }
    for (const [jobId, location] of Object.entries(ids)) {
      expect(await finished(jobId)).toMatchObject({ status: 'dead' });
      const retried = await fetch(`${workedApi.url}/jobs/${encodeURIComponent(jobId)}/retry`, { method: 'POST' });
      expect(retried.status, await retried.clone().text()).toBe(202);
      expect(retried.headers.get('location')).toBe(location);
      expect(await retried.json()).toEqual({ job_id: jobId, status: 'queued' });
      const followed = await fetch(new URL(retried.headers.get('location')!, workedApi.url));
      expect(followed.status).toBe(200);
      expect(await followed.json()).toMatchObject({ id: jobId });
    }
    // The IDs the API makes read as they are.
    const created = await fetch(`${workedApi.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","prompt":"x"}' });
    const { job_id } = (await created.json()) as { job_id: string };
    expect(job_id).toMatch(/^inference:[0-9A-Z]+$/);
    expect(created.headers.get('location')).toBe(`/jobs/${job_id}`);
  });
});
