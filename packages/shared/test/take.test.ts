import { redisTest as test, takeRequest } from '@conveyor/testing';
import { describe, expect } from 'vitest';
import { completeStage, ensureGroups, QueueKeys, takeJobs, type Pipeline } from '../src/index.js';

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
