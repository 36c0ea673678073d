import { redisTest as test, takeRequest } from '@conveyor/testing';
import { expect } from 'vitest';
import { enqueueJobs, ensureGroups, newJobId, QueueKeys, reclaimStale, takeJobs, type Lane, type Pipeline } from '../src/index.js';

const pipelines: Pipeline[] = [{ name: 'inference', input: 'json', stages: ['infer'] }];
const request = (consumer: string, count: number) => takeRequest({ consumer, count });

test('taking over fewer jobs than have lapsed, across lanes, starts exactly that many and leaves the rest claimable', async ({ redis, prefix }) => {
  await ensureGroups(redis, prefix, pipelines);
  const keys = new QueueKeys(prefix, 'inference');
  const lanes: Lane[] = ['high', 'high', 'normal', 'normal', 'low'];
  await enqueueJobs(redis, keys, 'infer', lanes.map((lane) => ({ id: newJobId('inference'), lane, payload: '{"model":"echo"}' })), { idempotencyTtlSeconds: 60, maxBacklog: 0 });
  expect((await takeJobs(redis, keys, request('dead-worker', 5))).jobs).toHaveLength(5);

  await new Promise((resolve) => setTimeout(resolve, 150));
  // Exactly one lane's worth, then less than one lane's worth: the later lanes must not be asked for zero.
  const first = await reclaimStale(redis, keys, request('c2', 2), 100);
  expect(first.jobs.map((job) => [job.lane, job.attempt])).toEqual([['high', 2], ['high', 2]]);
  const second = await reclaimStale(redis, keys, request('c3', 1), 100);
  expect(second.jobs.map((job) => [job.lane, job.attempt])).toEqual([['normal', 2]]);
  expect((await reclaimStale(redis, keys, request('c4', 10), 60_000)).jobs).toHaveLength(0);
  const rest = await reclaimStale(redis, keys, request('c4', 10), 100);
  expect(rest.jobs.map((job) => [job.lane, job.attempt])).toEqual([['normal', 2], ['low', 2]]);
});
