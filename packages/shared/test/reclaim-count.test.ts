import { redisTest as test, takeRequest } from '@conveyor/testing';
import { expect } from 'vitest';
import { countLapsed, enqueueJobs, ensureGroups, groupName, heartbeat, newJobId, QueueKeys, reclaimStale, takeJobs, type Lane, type Pipeline } from '../src/index.js';

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

test("each holder's own lease counts: a long-lease worker standing still keeps its jobs, a short-lease worker's lapse at its lease, and a holder no worker names gets the asking worker's", async ({ redis, prefix }) => {
  await ensureGroups(redis, prefix, pipelines);
  const keys = new QueueKeys(prefix, 'inference');
  const jobs = Array.from({ length: 3 }, () => ({ id: newJobId('inference'), lane: 'normal' as const, payload: '{"model":"echo"}' }));
  await enqueueJobs(redis, keys, 'infer', jobs, { idempotencyTtlSeconds: 60, maxBacklog: 0 });
  // A worker with a 10 s lease that stopped renewing (SIGSTOP, a long pause), one with 100 ms,
  // and a client outside Conveyor reading in the group (no lease named).
  for (const [consumer, leaseMs] of [['long-lease', 10_000], ['short-lease', 100]] as const) {
    await heartbeat(redis, keys, consumer, 50, 60_000, false, leaseMs);
    expect((await takeJobs(redis, keys, request(consumer, 1))).jobs).toHaveLength(1);
  }
  await redis.xreadgroup('GROUP', groupName('infer'), 'outside-reader', 'COUNT', 1, 'STREAMS', keys.stream('infer', 'normal'), '>');

  await new Promise((resolve) => setTimeout(resolve, 250));
  // Past 100 ms and the asking worker's 200 ms, nowhere near 10 s (the long-lease worker's word ran out too).
  expect(await countLapsed(redis, keys, 'infer', 5_000, 10)).toBe(1);
  expect(await countLapsed(redis, keys, 'infer', 200, 10)).toBe(2);
  expect(await countLapsed(redis, keys, 'infer', 200, 1)).toBe(1);
  const taken = await reclaimStale(redis, keys, request('c2', 10), 200);
  expect(taken.jobs.map((job) => job.jobId)).toEqual([jobs[1]!.id, jobs[2]!.id]);
  const held = (await redis.xpending(keys.stream('infer', 'normal'), groupName('infer'), '-', '+', 10)) as [string, string][];
  expect(held.map(([, consumer]) => consumer)).toEqual(['long-lease', 'c2', 'c2']);
  expect(await countLapsed(redis, keys, 'infer', 200, 10)).toBe(0);
});

test('a takeover of fewer jobs than have lapsed takes the oldest, whichever worker held them', async ({ redis, prefix }) => {
  await ensureGroups(redis, prefix, pipelines);
  const keys = new QueueKeys(prefix, 'inference');
  const jobs = Array.from({ length: 4 }, () => ({ id: newJobId('inference'), lane: 'normal' as const, payload: '{"model":"echo"}' }));
  await enqueueJobs(redis, keys, 'infer', jobs, { idempotencyTtlSeconds: 60, maxBacklog: 0 });
  for (const consumer of ['b-worker', 'a-worker', 'b-worker', 'a-worker']) expect((await takeJobs(redis, keys, request(consumer, 1))).jobs).toHaveLength(1);

  await new Promise((resolve) => setTimeout(resolve, 150));
  const first = await reclaimStale(redis, keys, request('c2', 3), 100);
  expect(first.jobs.map((job) => job.jobId)).toEqual(jobs.slice(0, 3).map((job) => job.id));
});
