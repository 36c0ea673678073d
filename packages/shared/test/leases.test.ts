import { redisTest as test, takeRequest, TEST_POLICY, testLease } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import {
  completeStage,
  enqueueJobs,
  ensureGroups,
  failAttempt,
  newJobId,
  promoteDueJobs,
  QueueKeys,
  readJob,
  reclaimStale,
  releaseJobs,
  renewLeases,
  takeJobs,
  type JobOptions,
  type Pipeline,
} from '../src/index.js';

const pipelines: Pipeline[] = [{ name: 'inference', input: 'json', stages: ['infer'] }];

const stageRequest = (consumer: string) => takeRequest({ consumer });

async function enqueueOne(redis: Redis, keys: QueueKeys, options?: JobOptions): Promise<string> {
  const id = newJobId('inference');
  await enqueueJobs(redis, keys, 'infer', [{ id, lane: 'normal', payload: '{"model":"echo","prompt":"hi"}', options }], { idempotencyTtlSeconds: 60, maxBacklog: 0 });
  return id;
}

async function holderOf(redis: Redis, stream: string, entryId: string): Promise<string | undefined> {
  const pending = (await redis.xpending(stream, 'infer', entryId, entryId, 1)) as [string, string, number, number][];
  return pending[0]?.[1];
}

function errorCodes(record: Record<string, string>): string[] {
  return (JSON.parse(record['errors'] ?? '[]') as { code?: string }[]).map((error) => error.code ?? '');
}

describe('leases', () => {
  test('a renewed lease is never taken over; once renewals stop and it lapses, another worker takes the job as a new attempt and the first learns it lost it', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'normal');
    const jobId = await enqueueOne(redis, keys);
    const [held] = (await takeJobs(redis, keys, stageRequest('c1'))).jobs;
    const leaseMs = 400;

    await sleep(250);
    expect(await renewLeases(redis, keys, 'c1', [held!], TEST_POLICY, testLease(leaseMs))).toEqual([]);
    await sleep(250);
    // 500 ms since the take, 250 since the renewal: the lease still holds.
    expect((await reclaimStale(redis, keys, stageRequest('c2'), leaseMs)).jobs).toEqual([]);
    expect(await readJob(redis, keys, jobId, 'infer')).toMatchObject({ kind: 'entry', running: { worker: 'c1' } });

    await sleep(leaseMs + 50);
    const [takenOver] = (await reclaimStale(redis, keys, stageRequest('c2'), leaseMs)).jobs;
    expect(takenOver).toMatchObject({ jobId, entryId: held!.entryId, attempt: 2 });
    expect(await redis.hgetall(keys.job(jobId))).toMatchObject({ status: 'active', worker: 'c2', attempts: '2' });

    expect(await renewLeases(redis, keys, 'c1', [held!], TEST_POLICY, testLease(leaseMs))).toEqual([held]);
    expect(await holderOf(redis, stream, held!.entryId)).toBe('c2');
    expect(await completeStage(redis, keys, held!, '{"late":true}', '', 60)).toBe('not-current-attempt');
    expect(await completeStage(redis, keys, takenOver!, '{"text":"hi"}', '', 60)).toBe('completed');
    expect(await redis.hget(keys.job(jobId), 'result')).toBe('{"text":"hi"}');
  });

  test('a released job is taken over at once, and the interrupted attempt counts neither as a failure nor as a stall', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const leaseMs = 10_000;
    const jobId = await enqueueOne(redis, keys, { max_attempts: 2 });
    const [held] = (await takeJobs(redis, keys, stageRequest('c1'))).jobs;
    expect((await reclaimStale(redis, keys, stageRequest('c2'), leaseMs)).jobs).toEqual([]);

    expect(await releaseJobs(redis, keys, 'c1', [held!], leaseMs, TEST_POLICY)).toBe(1);
    expect(await redis.hget(keys.job(jobId), 'status')).toBe('queued');
    expect(await redis.hlen(keys.active)).toBe(0);

    const takeover = await reclaimStale(redis, keys, stageRequest('c2'), leaseMs);
    const [again] = takeover.jobs;
    expect(again).toMatchObject({ jobId, entryId: held!.entryId, maxAttempts: 2 });
    expect(takeover.released.has(again!)).toBe(true);
    expect(await redis.hgetall(keys.job(jobId))).toMatchObject({ status: 'active', worker: 'c2' });
    expect(await completeStage(redis, keys, held!, '{"late":true}', '', 60)).toBe('not-current-attempt');

    // Both attempts are left for real failures.
    const error = (attempt: number) => ({ message: `model overloaded ${attempt}`, retryable: true, stage: 'infer', attempt, at: Date.now() });
    expect(await failAttempt(redis, keys, again!, error(again!.attempt), 0, 3, 60)).toBe('retrying');
    await promoteDueJobs(redis, keys, 60);
    const [last] = (await takeJobs(redis, keys, stageRequest('c3'))).jobs;
    expect(last).toMatchObject({ jobId, maxAttempts: 2 });
    expect(await failAttempt(redis, keys, last!, error(last!.attempt), 0, 3, 60)).toBe('dead');
    const record = await redis.hgetall(keys.job(jobId));
    expect(record['stalls'] ?? '0').toBe('0');
    expect(JSON.parse(record['errors']!).map((e: { message: string }) => e.message)).toEqual([`model overloaded ${again!.attempt}`, `model overloaded ${last!.attempt}`]);
  });

  test('a job whose attempt is no longer current is not released, and its new holder keeps it', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const jobId = await enqueueOne(redis, keys);
    const [held] = (await takeJobs(redis, keys, stageRequest('c1'))).jobs;
    await sleep(80);
    const [takenOver] = (await reclaimStale(redis, keys, stageRequest('c2'), 50)).jobs;
    expect(takenOver).toMatchObject({ jobId, attempt: 2 });

    expect(await releaseJobs(redis, keys, 'c1', [held!], 10_000, TEST_POLICY)).toBe(0);
    expect(await redis.hgetall(keys.job(jobId))).toMatchObject({ status: 'active', worker: 'c2', attempts: '2' });
    expect(await redis.hget(keys.active, `infer:normal:${held!.entryId}`)).toBe(jobId);
    expect(await holderOf(redis, keys.stream('infer', 'normal'), held!.entryId)).toBe('c2');
    expect((await reclaimStale(redis, keys, stageRequest('c3'), 10_000)).jobs).toEqual([]);
  });

  test('a job whose entry was deleted while its worker renews the lease is queued again for another worker, not left active forever', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const jobId = await enqueueOne(redis, keys);
    const [held] = (await takeJobs(redis, keys, stageRequest('c1'))).jobs;
    await redis.xdel(keys.stream('infer', 'normal'), held!.entryId);

    // The worker is told to stop: its entry is gone.
    expect(await renewLeases(redis, keys, 'c1', [held!], TEST_POLICY, testLease())).toEqual([held]);

    // Then the job must not be forgotten: the next reclaim or take finds it.
    const reclaimed = await reclaimStale(redis, keys, stageRequest('c2'), 0);
    const taken = await takeJobs(redis, keys, stageRequest('c2'));
    expect([...reclaimed.jobs, ...taken.jobs].map((job) => job.jobId)).toEqual([jobId]);
    expect(errorCodes(await redis.hgetall(keys.job(jobId)))).toContain('ENTRY_DELETED');
  });

  test('releasing a job whose entry was deleted queues it again on an entry another worker can take', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const jobId = await enqueueOne(redis, keys);
    const [held] = (await takeJobs(redis, keys, stageRequest('c1'))).jobs;
    await redis.xdel(keys.stream('infer', 'normal'), held!.entryId);

    await releaseJobs(redis, keys, 'c1', [held!], 10_000, TEST_POLICY);

    const reclaimed = await reclaimStale(redis, keys, stageRequest('c2'), 10_000);
    const taken = await takeJobs(redis, keys, stageRequest('c2'));
    expect([...reclaimed.jobs, ...taken.jobs].map((job) => job.jobId)).toEqual([jobId]);
  });
});
