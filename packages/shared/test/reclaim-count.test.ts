import { redisTest as test, takeRequest } from '@conveyor/testing';
import { expect } from 'vitest';
import { enqueueJobs, ensureGroups, groupName, newJobId, QueueKeys, reclaimStale, takeJobs, type Lane, type Pipeline } from '../src/index.js';

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

test('a lapsed entry behind many held by live workers is taken over by a worker with one free slot', async ({ redis, prefix }) => {
  await ensureGroups(redis, prefix, pipelines);
  const keys = new QueueKeys(prefix, 'inference');
  const stream = keys.stream('infer', 'normal');
  const jobs = Array.from({ length: 301 }, () => ({ id: newJobId('inference'), lane: 'normal' as const, payload: '{"model":"echo"}' }));
  await enqueueJobs(redis, keys, 'infer', jobs, { idempotencyTtlSeconds: 60, maxBacklog: 0 });
  // 300 entries held by a live fleet, then the last one by a worker that dies.
  for (let left = 300; left > 0; ) left -= (await takeJobs(redis, keys, request('live-worker', Math.min(64, left)))).jobs.length;
  const held = (await redis.xpending(stream, groupName('infer'), '-', '+', 400)) as [string, string][];
  expect(held.map(([, consumer]) => consumer)).toEqual(Array(300).fill('live-worker'));
  expect((await takeJobs(redis, keys, request('dead-worker', 1))).jobs.map((job) => job.jobId)).toEqual([jobs[300]!.id]);

  await new Promise((resolve) => setTimeout(resolve, 150));
  // The live worker renews its leases; the dead one does not.
  await redis.xclaim(stream, groupName('infer'), 'live-worker', 0, ...held.map(([id]) => id), 'JUSTID');
  const taken = await reclaimStale(redis, keys, request('c2', 1), 100);
  expect(taken.jobs.map((job) => [job.jobId, job.attempt])).toEqual([[jobs[300]!.id, 2]]);
});
