import { redisTest as test, takeRequest, TEST_LIMITS } from '@conveyor/testing';
import { describe, expect } from 'vitest';
import { completeStage, enqueueJobs, ensureGroups, newJobId, QueueKeys, readJob, takeJobs, type Pipeline } from '../src/index.js';

const pipelines: Pipeline[] = [{ name: 'inference', input: 'json', stages: ['infer'] }];
const request = takeRequest();

describe('taking jobs XADDed by other producers', () => {
  test('entries added to two lanes in the same millisecond are two jobs, each run once with its own payload', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    // Each lane is its own stream, so `XADD ... *` in the same millisecond gives both entries this ID.
    const entryId = `${Date.now()}-0`;
    await redis.xadd(keys.stream('infer', 'high'), entryId, 'prompt', 'first');
    await redis.xadd(keys.stream('infer', 'normal'), entryId, 'prompt', 'second');

    const { jobs } = await takeJobs(redis, keys, request);
    expect(jobs.map((job) => [job.lane, job.attempt, JSON.parse(job.payload)])).toEqual([
      ['high', 1, { prompt: 'first' }],
      ['normal', 1, { prompt: 'second' }],
    ]);
    expect(new Set(jobs.map((job) => job.jobId)).size).toBe(2);
    for (const job of jobs) expect(await completeStage(redis, keys, job, '{}', '', 60)).toBe('completed');
  });
});

describe('reading jobs XADDed by other producers', () => {
  test('one read by a consumer that is not a worker is shown queued while that consumer holds it pending, as a worker takes it over; acknowledged there, it is no job', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'normal');
    const [held, acked] = [await redis.xadd(stream, '*', 'prompt', 'held'), await redis.xadd(stream, '*', 'prompt', 'acked')];
    await redis.xreadgroup('GROUP', 'infer', 'py-worker', 'COUNT', 2, 'STREAMS', stream, '>');
    await redis.xack(stream, 'infer', acked!);
    expect(await readJob(redis, keys, `inference:${held}`, 'infer')).toMatchObject({ kind: 'entry', entryId: held, fields: { prompt: 'held' } });
    expect(await readJob(redis, keys, `inference:${acked}`, 'infer')).toBeUndefined();
  });
});

describe('taking jobs the API queued', () => {
  const payload = (n: number) => JSON.stringify({ model: 'echo', prompt: `job ${n}` });

  test('a batch starts without writing records: the queued index says which jobs have none, and each is completed with its whole record', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const queued = [0, 1, 2].map((n) => ({ id: newJobId('inference'), lane: 'normal' as const, payload: payload(n) }));
    await enqueueJobs(redis, keys, 'infer', queued, TEST_LIMITS);

    const { jobs } = await takeJobs(redis, keys, request);
    expect(jobs.map((job) => [job.jobId, job.attempt, job.payload])).toEqual(queued.map((job) => [job.id, 1, job.payload]));
    for (const job of queued) expect(await redis.exists(keys.job(job.id))).toBe(0);
    expect(await readJob(redis, keys, queued[1]!.id, 'infer')).toMatchObject({ kind: 'entry', running: { startedAt: expect.any(Number), worker: request.consumer } });

    for (const job of jobs) expect(await completeStage(redis, keys, job, '"done"', '', 60)).toBe('completed');
    for (const job of queued) {
      expect(await redis.hmget(keys.job(job.id), 'status', 'attempts', 'payload', 'result')).toEqual(['completed', '1', job.payload, '"done"']);
      expect(await redis.hget(keys.queued, job.id)).toBeNull();
    }
  });

  test('a job whose queued-index line is gone (deleted by hand) still runs once, with a record written when it starts', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const queued = [0, 1].map((n) => ({ id: newJobId('inference'), lane: 'normal' as const, payload: payload(n) }));
    await enqueueJobs(redis, keys, 'infer', queued, TEST_LIMITS);
    await redis.hdel(keys.queued, queued[0]!.id);

    const { jobs } = await takeJobs(redis, keys, request);
    expect(jobs.map((job) => [job.jobId, job.attempt, job.payload])).toEqual(queued.map((job) => [job.id, 1, job.payload]));
    expect(await redis.hmget(keys.job(queued[0]!.id), 'status', 'attempts', 'payload')).toEqual(['active', '1', queued[0]!.payload]);
    expect(await redis.exists(keys.job(queued[1]!.id))).toBe(0);

    for (const job of jobs) expect(await completeStage(redis, keys, job, '{}', '', 60)).toBe('completed');
    expect((await takeJobs(redis, keys, request)).jobs).toEqual([]);
    for (const job of queued) expect(await redis.hget(keys.job(job.id), 'status')).toBe('completed');
  });

  test("another entry naming a queued or running job (the reserved `job` field, XADDed by another client) is acknowledged and dropped: the job runs once, from its own entry", async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'normal');
    const [running, waiting] = [0, 1].map((n) => ({ id: newJobId('inference'), lane: 'normal' as const, payload: payload(n) }));
    const injected = JSON.stringify({ model: 'echo', prompt: 'injected' });

    // Running its first attempt, without a record: the duplicate is read by another worker.
    await enqueueJobs(redis, keys, 'infer', [running!], TEST_LIMITS);
    const [first] = (await takeJobs(redis, keys, takeRequest({ consumer: 'c1' }))).jobs;
    await redis.xadd(stream, '*', 'job', running!.id, 'payload', injected);
    expect((await takeJobs(redis, keys, takeRequest({ consumer: 'c2' }))).jobs).toEqual([]);
    expect(await completeStage(redis, keys, first!, '"original"', '', 60)).toBe('completed');

    // Still waiting: the duplicate, read with it, starts nothing; the job starts from its own entry.
    await enqueueJobs(redis, keys, 'infer', [waiting!], TEST_LIMITS);
    const duplicate = await redis.xadd(stream, '*', 'job', waiting!.id, 'payload', injected);
    const { jobs } = await takeJobs(redis, keys, takeRequest({ consumer: 'c2' }));
    expect(jobs.map((job) => [job.jobId, job.payload])).toEqual([[waiting!.id, waiting!.payload]]);
    expect(jobs[0]!.entryId).not.toBe(duplicate);
    expect(await completeStage(redis, keys, jobs[0]!, '"original"', '', 60)).toBe('completed');

    for (const job of [running!, waiting!]) {
      expect(await redis.hmget(keys.job(job.id), 'status', 'attempts', 'payload', 'result')).toEqual(['completed', '1', job.payload, '"original"']);
    }
    expect((await redis.xpending(stream, 'infer'))[0]).toBe(0);
    expect(await redis.hlen(keys.active)).toBe(0);
    expect(await redis.hlen(keys.queued)).toBe(0);
  });
});

describe('what a take hands the worker', () => {
  const documentPipelines: Pipeline[] = [{ name: 'documents', input: 'json', stages: ['extract', 'analyze'] }];

  test('payload, options and the previous stage output arrive as stored, spaces and non-ASCII text included', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, [...pipelines, ...documentPipelines]);
    const keys = new QueueKeys(prefix, 'inference');
    const payload = JSON.stringify({ model: 'echo', prompt: 'Café au lait, 日本語 and 🚀 with  two spaces' });
    const backoff = { type: 'fixed' as const, delay_ms: 250, max_delay_ms: 1_000 };
    const withOptions = { id: newJobId('inference'), lane: 'high' as const, payload, options: { max_attempts: 7, timeout_ms: 1_500, backoff } };
    const plain = { id: newJobId('inference'), lane: 'normal' as const, payload: '{"prompt":"plain"}' };
    await enqueueJobs(redis, keys, 'infer', [withOptions, plain], TEST_LIMITS);

    const { jobs } = await takeJobs(redis, keys, request);
    expect(jobs).toMatchObject([
      { jobId: withOptions.id, lane: 'high', attempt: 1, maxAttempts: 7, timeoutMs: 1_500, payload, input: undefined },
      { jobId: plain.id, lane: 'normal', attempt: 1, maxAttempts: request.defaultMaxAttempts, timeoutMs: undefined, backoff: undefined, payload: plain.payload },
    ]);
    expect(JSON.parse(jobs[0]!.backoff!)).toEqual(backoff);
    expect(jobs[0]!.entryId).toMatch(/^\d+-\d+$/);
    expect(jobs[0]!.createdAt).toBe(Number(jobs[0]!.entryId.split('-')[0]));
    expect(jobs[0]!.queuedAt).toBe(jobs[0]!.createdAt);

    // A later stage gets the previous stage's output as its input, also byte for byte.
    const docKeys = new QueueKeys(prefix, 'documents');
    const document = { id: newJobId('documents'), lane: 'normal' as const, payload: '{"name":"résumé.txt"}' };
    await enqueueJobs(redis, docKeys, 'extract', [document], TEST_LIMITS);
    const [extract] = (await takeJobs(redis, docKeys, takeRequest({ stage: 'extract' }))).jobs;
    const output = JSON.stringify({ text: 'Überblick: 价格 — ok', pages: 1 });
    expect(await completeStage(redis, docKeys, extract!, output, 'analyze', 60)).toBe('advanced');
    const [analyze] = (await takeJobs(redis, docKeys, takeRequest({ stage: 'analyze', previousStage: 'extract', firstStage: 'extract' }))).jobs;
    expect(analyze).toMatchObject({ jobId: document.id, stage: 'analyze', attempt: 1, payload: document.payload, input: output, inputBytes: Buffer.byteLength(output) });
  });

  test('a previous stage output over 1 MiB is left out of the take, with its size, for the worker to read when it may', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, documentPipelines);
    const keys = new QueueKeys(prefix, 'documents');
    const jobs = [1, 2].map(() => ({ id: newJobId('documents'), lane: 'normal' as const, payload: '{"name":"résumé.txt"}' }));
    await enqueueJobs(redis, keys, 'extract', jobs, TEST_LIMITS);
    const extracts = (await takeJobs(redis, keys, takeRequest({ stage: 'extract', count: 2 }))).jobs;
    const long = JSON.stringify({ text: 'Überblick '.repeat(110_000) });
    const short = JSON.stringify({ text: 'Überblick' });
    expect(Buffer.byteLength(long)).toBeGreaterThan(1024 * 1024);
    expect(await completeStage(redis, keys, extracts[0]!, long, 'analyze', 60)).toBe('advanced');
    expect(await completeStage(redis, keys, extracts[1]!, short, 'analyze', 60)).toBe('advanced');
    const taken = (await takeJobs(redis, keys, takeRequest({ stage: 'analyze', previousStage: 'extract', firstStage: 'extract', count: 2 }))).jobs;
    expect(taken).toMatchObject([
      { jobId: jobs[0]!.id, input: undefined, inputBytes: Buffer.byteLength(long), payload: jobs[0]!.payload },
      { jobId: jobs[1]!.id, input: short, inputBytes: Buffer.byteLength(short), payload: jobs[1]!.payload },
    ]);
  });
});

describe('priority aging', () => {
  test('a consumer taking one job at a time alternates between overdue lower jobs and newer high ones, whatever the clock (it went by the millisecond: seven high jobs in a row)', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const lanes = (lane: 'high' | 'low', count: number) => Array.from({ length: count }, (_, n) => ({ id: newJobId('inference'), lane, payload: JSON.stringify({ model: 'echo', prompt: `${lane} ${n}` }) }));
    const low = lanes('low', 6);
    await enqueueJobs(redis, keys, 'infer', low, TEST_LIMITS);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const high = lanes('high', 6);
    await enqueueJobs(redis, keys, 'infer', high, TEST_LIMITS);
    const order: string[] = [];
    for (let i = 0; i < 12; i++) {
      const [job] = (await takeJobs(redis, keys, takeRequest({ count: 1, lanes: ['high', 'normal', 'low'], agingMs: 50 }))).jobs;
      order.push(job!.lane);
      // Takes at an even interval of the clock, as a worker whose jobs take the same time makes them.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    for (let i = 1; i < order.length; i++) expect(order[i], order.join(' ')).not.toBe(order[i - 1]);
  });
});

