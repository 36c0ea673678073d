import { redisTest as test, waitFor, takeRequest, TEST_LIMITS, TEST_POLICY, testLease } from '@conveyor/testing';
import { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import {
  cancelJob,
  completeStage,
  controlChannel,
  enqueueJobs,
  ensureGroups,
  failAttempt,
  newJobId,
  promoteDueJobs,
  QueueKeys,
  readJob,
  renewLeases,
  takeJobs,
  type NewJob,
  type Pipeline,
} from '../src/index.js';

const pipelines: Pipeline[] = [{ name: 'inference', input: 'json', stages: ['infer'] }];
const stageRequest = (consumer = 'c1') => takeRequest({ consumer });

function job(extra: Partial<NewJob> = {}): NewJob {
  return { id: newJobId('inference'), lane: 'normal', payload: '{"model":"echo","prompt":"hi"}', ...extra };
}

function cancel(redis: Redis, keys: QueueKeys, prefix: string, jobId: string) {
  return cancelJob(redis, keys, jobId, 'infer', 60, controlChannel(prefix));
}

async function pendingCount(redis: Redis, keys: QueueKeys): Promise<number> {
  let total = 0;
  for (const lane of ['high', 'normal', 'low'] as const) total += Number((await redis.xpending(keys.stream('infer', lane), 'infer'))[0]);
  return total;
}

async function lastDelivered(redis: Redis, stream: string): Promise<string> {
  const [group] = (await redis.xinfo('GROUPS', stream)) as (string | number)[][];
  return String(group![group!.indexOf('last-delivered-id') + 1]);
}

describe('cancelling a job', () => {
  test('a queued job that has no record yet is cancelled, reads as cancelled, and is never run: a worker that reads its entry acks it', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const queued = job();
    await enqueueJobs(redis, keys, 'infer', [queued], TEST_LIMITS);
    const entryId = (await redis.hget(keys.queued, queued.id))!.split(' ')[1];

    expect(await cancel(redis, keys, prefix, queued.id)).toEqual({ ok: true, previousStatus: 'queued' });
    expect(await readJob(redis, keys, queued.id, 'infer')).toMatchObject({ kind: 'record', fields: { status: 'cancelled', id: queued.id } });
    // Its line now names the entry the record waits to be read past (see waitingEntry.lua).
    expect(await redis.hget(keys.queued, queued.id)).toBe(`normal ${entryId} infer`);
    // Kept until a worker reads past its entry, then kept for the retention (60 s here); until
    // then its entry, still in the group's lag, is counted as a cancelled one.
    expect(await redis.ttl(keys.job(queued.id))).toBe(-1);
    expect(await redis.hgetall(keys.cancelled)).toEqual({ 'infer:normal': '1' });

    expect((await takeJobs(redis, keys, stageRequest())).jobs).toEqual([]);
    expect(await lastDelivered(redis, keys.stream('infer', 'normal'))).toBe(entryId);
    expect(await pendingCount(redis, keys)).toBe(0);
    expect(await redis.hget(keys.job(queued.id), 'status')).toBe('cancelled');
    expect(await redis.ttl(keys.job(queued.id))).toBeGreaterThan(55);
    expect(await redis.exists(keys.cancelled)).toBe(0);
    expect(await redis.exists(keys.queued)).toBe(0);
  });

  test('a queued job cancelled long before a worker reaches its entry is still never run: its record is kept until the entry is read past, then expires', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    // A recordless API job, one with a record (as documents and retries have), and a job another
    // producer XADDed: each cancelled with a retention of 1 s, and read by a worker 1.5 s later.
    const plain = job();
    const recorded = job({ document: Buffer.from('a document') });
    await enqueueJobs(redis, keys, 'infer', [plain, recorded], TEST_LIMITS);
    const foreign = `inference:${await redis.xadd(keys.stream('infer', 'normal'), '*', 'model', 'echo', 'prompt', 'from redis-cli')}`;
    for (const id of [plain.id, recorded.id, foreign]) {
      expect((await cancelJob(redis, keys, id, 'infer', 1, controlChannel(prefix))).ok, id).toBe(true);
      expect(await redis.ttl(keys.job(id)), id).toBe(-1);
    }
    expect(await redis.hgetall(keys.cancelled)).toEqual({ 'infer:normal': '3' });
    await new Promise((resolve) => setTimeout(resolve, 1_500));

    expect((await takeJobs(redis, keys, stageRequest())).jobs).toEqual([]);
    expect(await redis.exists(keys.cancelled)).toBe(0);
    expect(await pendingCount(redis, keys)).toBe(0);
    for (const id of [plain.id, recorded.id, foreign]) {
      expect(await redis.hget(keys.job(id), 'status'), id).toBe('cancelled');
      // The worker's retention (60 s in these tests) from when it read past the entry.
      expect(await redis.ttl(keys.job(id)), id).toBeGreaterThan(55);
    }
  });

  test('a delayed job is cancelled and leaves the delayed set, so it is never queued', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const later = job({ runAt: Date.now() + 60_000 });
    await enqueueJobs(redis, keys, 'infer', [later], TEST_LIMITS);
    expect(await redis.zscore(keys.delayed, later.id)).not.toBeNull();

    expect(await cancel(redis, keys, prefix, later.id)).toEqual({ ok: true, previousStatus: 'delayed' });
    expect(await redis.zscore(keys.delayed, later.id)).toBeNull();
    expect(await redis.hget(keys.job(later.id), 'status')).toBe('cancelled');
    expect((await promoteDueJobs(redis, keys, 60)).nextDueInMs).toBeUndefined();
  });

  test('a job waiting for a retry is cancelled and leaves the delayed set, so it is never retried', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const failing = job();
    await enqueueJobs(redis, keys, 'infer', [failing], TEST_LIMITS);
    const [held] = (await takeJobs(redis, keys, stageRequest())).jobs;
    const error = { message: 'model overloaded', retryable: true, stage: 'infer', attempt: 1, at: Date.now() };
    expect(await failAttempt(redis, keys, held!, error, 60_000, 3, 60)).toBe('retrying');

    expect(await cancel(redis, keys, prefix, failing.id)).toEqual({ ok: true, previousStatus: 'retrying' });
    expect(await redis.zscore(keys.delayed, failing.id)).toBeNull();
    expect(await redis.hget(keys.job(failing.id), 'status')).toBe('cancelled');
    expect((await promoteDueJobs(redis, keys, 60)).nextDueInMs).toBeUndefined();
  });

  test('an active job is cancelled: its entry is acked, it leaves the active hash, its worker is told on the control channel, and its later completion is refused', async ({ redis, redisUrl, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const running = job();
    await enqueueJobs(redis, keys, 'infer', [running], TEST_LIMITS);
    const [held] = (await takeJobs(redis, keys, stageRequest())).jobs;

    const subscriber = new Redis(redisUrl);
    try {
      const messages: string[] = [];
      subscriber.on('message', (channel: string, message: string) => {
        if (channel === controlChannel(prefix)) messages.push(message);
      });
      await subscriber.subscribe(controlChannel(prefix));

      expect(await cancel(redis, keys, prefix, running.id)).toEqual({ ok: true, previousStatus: 'active' });
      const message = await waitFor(() => messages[0], 'the cancel message on the control channel', 2_000);
      expect(JSON.parse(message)).toMatchObject({ type: 'cancel', job_id: running.id });
    } finally {
      subscriber.disconnect();
    }

    expect(await pendingCount(redis, keys)).toBe(0);
    expect(await redis.hlen(keys.active)).toBe(0);
    expect(await redis.hget(keys.job(running.id), 'status')).toBe('cancelled');
    expect(await renewLeases(redis, keys, 'c1', [held!], TEST_POLICY, testLease())).toEqual([held]);
    expect(await completeStage(redis, keys, held!, '{"text":"hi"}', '', 60)).toBe('not-current-attempt');
    expect(await redis.hgetall(keys.job(running.id))).toMatchObject({ status: 'cancelled' });
    expect(await redis.hexists(keys.job(running.id), 'result')).toBe(0);
  });

  test('a finished job is refused with its status, and an unknown job is not found', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const [completed, dead, cancelled] = [job(), job(), job()];
    await enqueueJobs(redis, keys, 'infer', [completed, dead], TEST_LIMITS);
    const [first, second] = (await takeJobs(redis, keys, stageRequest())).jobs;
    await completeStage(redis, keys, first!, '{"text":"hi"}', '', 60);
    await failAttempt(redis, keys, second!, { message: 'bad input', retryable: false, stage: 'infer', attempt: 1, at: Date.now() }, undefined, 3, 60);
    await enqueueJobs(redis, keys, 'infer', [cancelled], TEST_LIMITS);
    await cancel(redis, keys, prefix, cancelled.id);

    expect(await cancel(redis, keys, prefix, completed.id)).toEqual({ ok: false, reason: 'finished', status: 'completed' });
    expect(await cancel(redis, keys, prefix, dead.id)).toEqual({ ok: false, reason: 'finished', status: 'dead' });
    expect(await cancel(redis, keys, prefix, cancelled.id)).toEqual({ ok: false, reason: 'finished', status: 'cancelled' });
    expect(await redis.hget(keys.job(completed.id), 'status')).toBe('completed');
    expect(await redis.hget(keys.job(dead.id), 'status')).toBe('dead');

    expect(await cancel(redis, keys, prefix, newJobId('inference'))).toEqual({ ok: false, reason: 'not-found' });
    expect(await cancel(redis, keys, prefix, 'inference:1-1')).toEqual({ ok: false, reason: 'not-found' });
    expect(await redis.exists(keys.job('inference:1-1'))).toBe(0);
  });

  test('a job XADDed by another producer is cancelled before any worker takes it, and as an active job once one has', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'high');
    // An entry in the high lane is named <queue>:high:<entry ID> (entry IDs are unique per stream only).
    const waiting = `inference:high:${await redis.xadd(stream, '*', 'model', 'echo', 'prompt', 'hi')}`;

    expect(await cancel(redis, keys, prefix, waiting)).toEqual({ ok: true, previousStatus: 'queued' });
    expect(await readJob(redis, keys, waiting, 'infer')).toMatchObject({ kind: 'record', fields: { status: 'cancelled', lane: 'high' } });

    const taken = `inference:high:${await redis.xadd(stream, '*', 'model', 'echo', 'prompt', 'again')}`;
    const held = (await takeJobs(redis, keys, stageRequest())).jobs;
    expect(held.map((j) => j.jobId)).toEqual([taken]);
    expect(await cancel(redis, keys, prefix, taken)).toEqual({ ok: true, previousStatus: 'active' });
    expect(await pendingCount(redis, keys)).toBe(0);
    expect(await completeStage(redis, keys, held[0]!, '{}', '', 60)).toBe('not-current-attempt');
    expect(await redis.hget(keys.job(taken), 'status')).toBe('cancelled');
  });

  test('an entry answers to one name only: its other spellings, and names pointing at a job the API queued or at another key of the queue, are not found and cancel nothing', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'normal');
    const direct = (await redis.xadd(stream, '*', 'model', 'echo', 'prompt', 'direct'))!;
    const queued = job();
    await enqueueJobs(redis, keys, 'infer', [queued], TEST_LIMITS);
    const apiEntry = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1))[0]![0];
    await redis.set(`${keys.base}idem:normal`, 'inference:x'); // an idempotency key "normal"
    const [ms, seq] = direct.split('-');
    const aliases = [
      `inference:0${direct}`, // leading zeros: XRANGE reads the same entry
      `inference:${ms}-0${seq}`,
      `inference:infer:normal:${direct}`, // the first stage spelled out
      `inference:normal:${direct}`, // the normal lane spelled out
      `inference:${apiEntry}`, // the entry of a job the API queued, which has its own ID
      `inference:idem:normal:${direct}`, // another key of the queue, not a stage's stream
    ];
    for (const alias of aliases) {
      expect(await readJob(redis, keys, alias, 'infer'), alias).toBeUndefined();
      expect(await cancel(redis, keys, prefix, alias), alias).toEqual({ ok: false, reason: 'not-found' });
      expect(await redis.exists(keys.job(alias)), alias).toBe(0);
    }
    expect(await redis.hlen(`${keys.base}cancelled`)).toBe(0);
    const taken = (await takeJobs(redis, keys, stageRequest())).jobs.map((j) => j.jobId);
    expect(taken).toEqual([`inference:${direct}`, queued.id]);
  });

  test('a job XADDed by another producer that has finished and whose record expired is not found, not cancelled after the fact', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const jobId = `inference:${await redis.xadd(keys.stream('infer', 'normal'), '*', 'model', 'echo', 'prompt', 'hi')}`;
    const [held] = (await takeJobs(redis, keys, stageRequest())).jobs;
    await completeStage(redis, keys, held!, '{}', '', 60);
    await redis.del(keys.job(jobId)); // its retention ran out

    expect(await cancel(redis, keys, prefix, jobId)).toEqual({ ok: false, reason: 'not-found' });
    expect(await redis.exists(keys.job(jobId))).toBe(0);
  });
});
