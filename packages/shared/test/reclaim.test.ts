import { redisTest as test, takeRequest } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import {
  completeStage,
  enqueueJobs,
  ensureGroups,
  failAttempt,
  fieldsOf,
  heartbeat,
  letGoOwn,
  newJobId,
  QueueKeys,
  reclaimStale,
  recoverOwn,
  takeJobs,
  type JobOptions,
  type Lane,
  type Pipeline,
  type RecoveryCursors,
  type TakeRequest,
} from '../src/index.js';

const pipelines: Pipeline[] = [{ name: 'inference', input: 'json', stages: ['infer'] }];

const stageRequest = (consumer: string, overrides: Partial<TakeRequest> = {}) => takeRequest({ consumer, ...overrides });

async function enqueue(redis: Redis, keys: QueueKeys, lanes: Lane[], options?: JobOptions): Promise<string[]> {
  const jobs = lanes.map((lane) => ({ id: newJobId('inference'), lane, payload: '{"model":"echo","prompt":"hi"}', options }));
  await enqueueJobs(redis, keys, 'infer', jobs, { idempotencyTtlSeconds: 60, maxBacklog: 0 });
  return jobs.map((job) => job.id);
}

function errorCodes(record: Record<string, string>): string[] {
  return (JSON.parse(record['errors'] ?? '[]') as { code?: string }[]).map((error) => error.code ?? '');
}

async function deadCopies(redis: Redis, keys: QueueKeys): Promise<Record<string, string>[]> {
  const entries = await redis.xrange(keys.dead, '-', '+');
  return entries.map(([, fields]) => fieldsOf(fields));
}

describe('taking over lapsed leases', () => {
  test('a job whose workers keep dying is dead-lettered once it has stalled more than max stalls times, with every lapse in its history and a copy in the dead stream', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const [jobId] = await enqueue(redis, keys, ['normal'], { max_attempts: 2 });
    const request = (consumer: string) => stageRequest(consumer, { maxStalls: 1 });
    expect((await takeJobs(redis, keys, request('c1'))).jobs).toHaveLength(1);

    await sleep(80);
    const lapsed = await reclaimStale(redis, keys, request('c2'), 50);
    expect(lapsed.jobs).toMatchObject([{ jobId, attempt: 2 }]);
    expect(lapsed.released.size).toBe(0);
    await sleep(80);
    expect(await reclaimStale(redis, keys, request('c3'), 50)).toMatchObject({ jobs: [], deadOut: [{ jobId, code: 'STALLED', stalls: 2 }] });

    const record = await redis.hgetall(keys.job(jobId!));
    expect(record).toMatchObject({ status: 'dead', stalls: '2' });
    expect(JSON.parse(record['error']!)).toMatchObject({ code: 'STALLED', retryable: false, message: expect.stringMatching(/^The job stalled 2 times: each time/) });
    expect(errorCodes(record)).toEqual(['LEASE_EXPIRED', 'LEASE_EXPIRED', 'STALLED']);
    // Each names the worker that stopped holding the job.
    expect((JSON.parse(record['errors']!) as { worker?: string }[]).map((error) => error.worker)).toEqual(['c1', 'c2', 'c2']);
    expect(await redis.ttl(keys.job(jobId!))).toBeGreaterThan(0);
    const [copy, ...others] = await deadCopies(redis, keys);
    expect(others).toEqual([]);
    expect(copy).toMatchObject({ job: jobId, stage: 'infer', lane: 'normal' });
    expect(errorCodes({ errors: copy!['errors']! })).toEqual(['LEASE_EXPIRED', 'LEASE_EXPIRED', 'STALLED']);
    expect((await redis.xpending(keys.stream('infer', 'normal'), 'infer'))[0]).toBe(0);
    expect(await redis.hlen(keys.active)).toBe(0);
  });

  test('a lapsed lease is published as a stalled event with its LEASE_EXPIRED error, before the active of the attempt that takes over', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const subscriber = redis.duplicate();
    const events: Record<string, unknown>[] = [];
    subscriber.on('message', (_channel: string, text: string) => events.push(JSON.parse(text) as Record<string, unknown>));
    await subscriber.subscribe(keys.events);
    try {
      const [jobId] = await enqueue(redis, keys, ['normal']);
      expect((await takeJobs(redis, keys, stageRequest('c1'))).jobs).toHaveLength(1);
      await sleep(80);
      expect((await reclaimStale(redis, keys, stageRequest('c2'), 50)).jobs).toMatchObject([{ jobId, attempt: 2 }]);
      await expect.poll(() => events.map((event) => event['event'])).toEqual(['queued', 'active', 'stalled', 'active']);
      expect(events[2]).toMatchObject({ job_id: jobId, stage: 'infer', attempt: 1, worker: 'c1', error: { code: 'LEASE_EXPIRED', attempt: 1, worker: 'c1', retryable: true } });
      expect(events[3]).toMatchObject({ job_id: jobId, attempt: 2, worker: 'c2' });
    } finally {
      subscriber.disconnect();
    }
  });

  test('with max stalls 0, the first lapse dead-letters the job, saying it stalled once (it said "1 times"); past that, how many times', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const [jobId] = await enqueue(redis, keys, ['normal'], {});
    const request = (consumer: string) => stageRequest(consumer, { maxStalls: 0 });
    expect((await takeJobs(redis, keys, request('c1'))).jobs).toHaveLength(1);
    await sleep(80);
    expect((await reclaimStale(redis, keys, request('c2'), 50)).jobs).toEqual([]);
    const error = JSON.parse((await redis.hget(keys.job(jobId!), 'error'))!) as { code: string; message: string };
    expect(error).toMatchObject({ code: 'STALLED', message: 'The job stalled once: the worker holding it stopped before it finished. It is dead-lettered so that it cannot stop more workers (MAX_STALLS is 0).' });
  });

  test('lapsed leases are stalls, not failures: a job with max_attempts 2 whose workers died twice still runs, and fails only by its own errors', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const [jobId] = await enqueue(redis, keys, ['normal'], { max_attempts: 2 });
    await takeJobs(redis, keys, stageRequest('c1'));
    await sleep(80);
    await reclaimStale(redis, keys, stageRequest('c2'), 50);
    await sleep(80);
    const [third] = (await reclaimStale(redis, keys, stageRequest('c3'), 50)).jobs;
    expect(third).toMatchObject({ jobId, attempt: 3, maxAttempts: 2 });
    expect(await redis.hgetall(keys.job(jobId!))).toMatchObject({ status: 'active', worker: 'c3', stalls: '2' });

    const error = { message: 'model overloaded', retryable: true, stage: 'infer', attempt: 3, at: Date.now() };
    expect(await failAttempt(redis, keys, third!, error, 60_000, 3, 60)).toBe('retrying');
  });
});

describe('entries deleted while pending', () => {
  test('a pending entry deleted from the stream fails its attempt at the next reclaim: the job is queued again at once on a new entry and runs again', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const [jobId] = await enqueue(redis, keys, ['normal']);
    const [held] = (await takeJobs(redis, keys, stageRequest('c1'))).jobs;
    await redis.xdel(keys.stream('infer', 'normal'), held!.entryId);

    expect(await reclaimStale(redis, keys, stageRequest('c2'), 0)).toEqual({ jobs: [], lost: 1, released: new Set(), repeated: false, deadOut: [] });
    const record = await redis.hgetall(keys.job(jobId!));
    expect(record).toMatchObject({ status: 'queued', failures: '1' });
    expect(record['entry']).not.toBe(held!.entryId);
    expect(errorCodes(record)).toEqual(['ENTRY_DELETED']);
    // Naming the worker that held it, as every attempt's error does.
    expect(JSON.parse(record['errors']!)).toMatchObject([{ worker: 'c1', attempt: 1 }]);
    expect(await redis.hlen(keys.active)).toBe(0);
    expect(await redis.xlen(keys.stream('infer', 'normal'))).toBe(1);

    const [again] = (await takeJobs(redis, keys, stageRequest('c2'))).jobs;
    expect(again).toMatchObject({ jobId, entryId: record['entry'], attempt: 2 });
    expect(await completeStage(redis, keys, held!, '{"late":true}', '', 60)).toBe('not-current-attempt');
    expect(await completeStage(redis, keys, again!, '{"text":"hi"}', '', 60)).toBe('completed');
  });

  test('a pending entry deleted from the stream dead-letters its job when it has no attempts left', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const [jobId] = await enqueue(redis, keys, ['normal'], { max_attempts: 1 });
    const [held] = (await takeJobs(redis, keys, stageRequest('c1'))).jobs;
    await redis.xdel(keys.stream('infer', 'normal'), held!.entryId);

    expect(await reclaimStale(redis, keys, stageRequest('c2'), 0)).toEqual({ jobs: [], lost: 1, released: new Set(), repeated: false, deadOut: [] });
    const record = await redis.hgetall(keys.job(jobId!));
    expect(record['status']).toBe('dead');
    expect(JSON.parse(record['error']!)).toMatchObject({ code: 'ENTRY_DELETED' });
    expect(await deadCopies(redis, keys)).toMatchObject([{ job: jobId }]);
    expect(await redis.hlen(keys.active)).toBe(0);
    expect((await takeJobs(redis, keys, stageRequest('c2'))).jobs).toEqual([]);
  });
});

describe('recovering a restarted worker', () => {
  test('a worker restarted under the same name gets back the jobs it held, each as a new attempt, and its cursors end empty', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const ids = await enqueue(redis, keys, ['normal', 'normal']);
    expect((await takeJobs(redis, keys, stageRequest('c1'))).jobs).toHaveLength(2);

    const recovered = await recoverOwn(redis, keys, stageRequest('c1'));
    expect(recovered.jobs.map((job) => [job.jobId, job.attempt])).toEqual([[ids[0], 2], [ids[1], 2]]);
    expect(recovered.cursors).toEqual(['', '', '']);
    for (const id of ids) expect(await redis.hgetall(keys.job(id))).toMatchObject({ status: 'active', worker: 'c1', attempts: '2' });
    expect(await recoverOwn(redis, keys, stageRequest('c2'))).toEqual({ jobs: [], cursors: ['', '', ''], repeated: false, deadOut: [] });
  });

  test('an entry of its own pending list that was deleted comes back failed and queued again, not lost', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const [kept, deleted] = await enqueue(redis, keys, ['normal', 'normal']);
    const held = (await takeJobs(redis, keys, stageRequest('c1'))).jobs;
    const deletedEntry = held.find((job) => job.jobId === deleted)!.entryId;
    await redis.xdel(keys.stream('infer', 'normal'), deletedEntry);

    const recovered = await recoverOwn(redis, keys, stageRequest('c1'));
    expect(recovered.jobs.map((job) => [job.jobId, job.attempt])).toEqual([[kept, 2]]);
    expect(recovered.cursors).toEqual(['', '', '']);
    const record = await redis.hgetall(keys.job(deleted!));
    expect(record).toMatchObject({ status: 'queued', failures: '1' });
    expect(record['entry']).not.toBe(deletedEntry);
    expect(errorCodes(record)).toEqual(['ENTRY_DELETED']);
    expect(await redis.hget(keys.active, `infer:normal:${deletedEntry}`)).toBeNull();

    expect((await takeJobs(redis, keys, stageRequest('c1'))).jobs).toMatchObject([{ jobId: deleted, entryId: record['entry'], attempt: 2 }]);
  });

  test('recovery starts at most count jobs per call, and the cursors it returns lead the next call to the rest', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const [high, normal1, normal2] = await enqueue(redis, keys, ['high', 'normal', 'normal']);
    await takeJobs(redis, keys, stageRequest('c1'));
    const oneAtATime = stageRequest('c1', { count: 1 });

    const calls: { jobs: [string, number][]; done: boolean }[] = [];
    let cursors: RecoveryCursors = ['0', '0', '0'];
    do {
      const recovered = await recoverOwn(redis, keys, oneAtATime, cursors);
      cursors = recovered.cursors;
      calls.push({ jobs: recovered.jobs.map((job) => [job.jobId, job.attempt]), done: cursors.every((cursor) => cursor === '') });
    } while (!calls.at(-1)!.done && calls.length < 10);

    expect(calls).toEqual([
      { jobs: [[high, 2]], done: false },
      { jobs: [[normal1, 2]], done: false },
      { jobs: [[normal2, 2]], done: false },
      { jobs: [], done: true },
    ]);
  });
  test("what recovery found no slot for is let go for any worker's next takeover, past the cursors only; an entry deleted meanwhile is left for the takeover to fail", async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const [high, normal1, normal2] = await enqueue(redis, keys, ['high', 'normal', 'normal', 'low']);
    await takeJobs(redis, keys, stageRequest('c1'));
    // Restarted with a 20 s lease and one free slot.
    await heartbeat(redis, keys, 'c1', 10_000, 60_000, false, 20_000);
    const recovered = await recoverOwn(redis, keys, stageRequest('c1', { count: 1 }));
    expect(recovered.jobs.map((job) => job.jobId)).toEqual([high]);
    await redis.xdel(keys.stream('infer', 'low'), (await redis.xrange(keys.stream('infer', 'low'), '-', '+'))[0]![0]);

    expect(await letGoOwn(redis, keys, 'infer', 'c1', 40_000, recovered.cursors)).toBe(2);
    // The two let go; not the job recovery started (c1 runs it, within its 20 s lease), nor the
    // deleted entry, still pending to c1 until its lease lapses and a takeover fails its attempt.
    const taken = await reclaimStale(redis, keys, stageRequest('c2', { count: 10 }), 1_000);
    expect(taken.jobs.map((job) => job.jobId)).toEqual([normal1, normal2]);
    expect(taken.lost).toBe(0);
    expect(await redis.xpending(keys.stream('infer', 'low'), 'infer')).toMatchObject([1, expect.any(String), expect.any(String), [['c1', '1']]]);
    expect(await letGoOwn(redis, keys, 'infer', 'c1', 40_000, ['', '', ''])).toBe(0);
  });
});
