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
});
