import { redisTest as test, takeRequest, TEST_LIMITS, TEST_PIPELINES } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import {
  completeStage,
  enqueueJobs,
  ensureGroups,
  failAttempt,
  newJobId,
  QueueKeys,
  readJob,
  retryDeadJob,
  takeJobs,
  type NewJob,
} from '../src/index.js';

const stageRequest = (stage: string, previousStage = '', consumer = 'c1') => takeRequest({ stage, previousStage, consumer });

function job(queue: string, extra: Partial<NewJob> = {}): NewJob {
  return { id: newJobId(queue), lane: 'normal', payload: '{"model":"echo","prompt":"hi"}', ...extra };
}

const badInput = (stage: string) => ({ message: 'bad input', code: 'INVALID_INPUT', retryable: false, stage, attempt: 1, at: Date.now() });

describe('retrying a dead-lettered job', () => {
  test('a dead job is queued again on the stage where it died, with the same ID, no attempts, no expiry, its history kept and its dead copy gone; then it runs to completion', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'docs');
    const doc = job('docs', { lane: 'high', document: Buffer.from('hello world') });
    await enqueueJobs(redis, keys, 'extract', [doc], TEST_LIMITS);
    const [extracting] = (await takeJobs(redis, keys, stageRequest('extract'))).jobs;
    await completeStage(redis, keys, extracting!, '{"text":"hello world"}', 'summarize', 60);
    const [summarizing] = (await takeJobs(redis, keys, stageRequest('summarize', 'extract'))).jobs;
    expect(await failAttempt(redis, keys, summarizing!, badInput('summarize'), undefined, 3, 60)).toBe('dead');
    expect(await redis.xlen(keys.dead)).toBe(1);
    expect(await redis.ttl(keys.job(doc.id))).toBeGreaterThan(0);

    expect(await retryDeadJob(redis, keys, doc.id)).toEqual({ ok: true });
    const record = await redis.hgetall(keys.job(doc.id));
    expect(record).toMatchObject({ id: doc.id, status: 'queued', stage: 'summarize', lane: 'high', attempts: '0' });
    expect(record['entry']).not.toBe(summarizing!.entryId);
    expect(JSON.parse(record['errors']!)).toMatchObject([{ message: 'bad input', code: 'INVALID_INPUT' }]);
    expect(await redis.ttl(keys.job(doc.id))).toBe(-1);
    expect(await redis.xlen(keys.dead)).toBe(0);
    expect(await redis.xrange(keys.stream('summarize', 'high'), record['entry']!, record['entry']!)).toEqual([[record['entry'], ['job', doc.id]]]);

    const [again] = (await takeJobs(redis, keys, stageRequest('summarize', 'extract', 'c2'))).jobs;
    expect(again).toMatchObject({ jobId: doc.id, attempt: 1, input: '{"text":"hello world"}' });
    expect(await completeStage(redis, keys, again!, '{"summary":"hi"}', '', 60)).toBe('completed');
    expect(await redis.hgetall(keys.job(doc.id))).toMatchObject({ status: 'completed', result: '{"summary":"hi"}' });
  });

  test('a job that is not dead is refused with its status and left as it is; an unknown job is not found', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const [running, finished] = [job('inference'), job('inference')];
    await enqueueJobs(redis, keys, 'infer', [running, finished], TEST_LIMITS);
    const [held, done] = (await takeJobs(redis, keys, stageRequest('infer'))).jobs;
    await completeStage(redis, keys, done!, '{"text":"hi"}', '', 60);
    const before = await redis.hgetall(keys.job(running.id));

    expect(await retryDeadJob(redis, keys, running.id)).toEqual({ ok: false, reason: 'not-dead', status: 'active' });
    expect(await retryDeadJob(redis, keys, finished.id)).toEqual({ ok: false, reason: 'not-dead', status: 'completed' });
    expect(await redis.hgetall(keys.job(running.id))).toEqual(before);
    expect(await redis.hget(keys.job(finished.id), 'status')).toBe('completed');
    expect(await completeStage(redis, keys, held!, '{"text":"hi"}', '', 60)).toBe('completed');

    expect(await retryDeadJob(redis, keys, newJobId('inference'))).toEqual({ ok: false, reason: 'not-found' });
  });

  test('a queued job that has no record yet is refused as not dead, not reported unknown', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const queued = job('inference');
    await enqueueJobs(redis, keys, 'infer', [queued], TEST_LIMITS);
    expect(await readJob(redis, keys, queued.id, 'infer')).toMatchObject({ kind: 'entry' });

    expect(await retryDeadJob(redis, keys, queued.id)).toEqual({ ok: false, reason: 'not-dead', status: 'queued' });
    expect(await redis.xlen(keys.stream('infer', 'normal'))).toBe(1);
  });
});
