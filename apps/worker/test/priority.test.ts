import { createLogger, enqueueJobs, loadConfig, newJobId, QueueKeys, workerEnvSchema, type Lane, type NewJob } from '@conveyor/shared';
import { redisTest, waitFor } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import { Worker } from '../src/worker.js';

const test = redisTest.extend<{ startWorker: (env?: Record<string, string>) => Promise<Worker> }>({
  startWorker: async ({ redisUrl, prefix }, use) => {
    const started: Worker[] = [];
    await use(async (env = {}) => {
      const config = loadConfig(workerEnvSchema, { REDIS_URL: redisUrl, KEY_PREFIX: prefix, WORKER_PORT: '-1', BLOCK_MS: '1s', CONCURRENCY: '1', ...env });
      const worker = new Worker(config, createLogger('worker', 'silent'));
      await worker.start();
      started.push(worker);
      return worker;
    });
    await Promise.all(started.map((worker) => worker.stop(5_000)));
  },
});

function jobs(count: number, lane: Lane, sleepMs: number): NewJob[] {
  return Array.from({ length: count }, () => ({ id: newJobId('inference'), lane, payload: JSON.stringify({ model: 'echo', params: { sleep_ms: sleepMs } }) }));
}

async function submit(redis: Redis, prefix: string, batch: NewJob[]) {
  expect((await enqueueJobs(redis, new QueueKeys(prefix, 'inference'), 'infer', batch, { idempotencyTtlSeconds: 60, maxBacklog: 0 })).ok).toBe(true);
}

async function times(redis: Redis, prefix: string, batch: NewJob[]) {
  const keys = new QueueKeys(prefix, 'inference');
  return Promise.all(
    batch.map(async (job) => {
      const [status, started, finished] = await redis.hmget(keys.job(job.id), 'status', 'started_at', 'finished_at');
      return { id: job.id, status, started: Number(started ?? Number.NaN), finished: Number(finished ?? Number.NaN) };
    }),
  );
}

describe('priority lanes', () => {
  test('high jobs submitted after 200 low ones all finish before the low ones not yet taken', async ({ redis, prefix, startWorker }) => {
    const low = jobs(200, 'low', 10);
    await submit(redis, prefix, low);
    await startWorker();
    await waitFor(async () => (await times(redis, prefix, low.slice(0, 5))).every((t) => t.status === 'completed'), 'a few low jobs to finish');
    const submittedAt = Date.now();
    const high = jobs(20, 'high', 10);
    await submit(redis, prefix, high);
    const highTimes = await waitFor(async () => {
      const all = await times(redis, prefix, high);
      return all.every((t) => t.status === 'completed') ? all : undefined;
    }, 'the high jobs to finish');
    const lastHigh = Math.max(...highTimes.map((t) => t.finished));
    const lowTimes = await times(redis, prefix, low);
    const lowStartedAfter = lowTimes.filter((t) => !(t.started <= submittedAt));
    const lowStartedBefore = lowTimes.length - lowStartedAfter.length;
    console.log(`low jobs taken before the high ones arrived: ${lowStartedBefore}; high jobs done ${lastHigh - submittedAt} ms after submission`);
    expect(lowStartedAfter.length).toBeGreaterThan(100);
    // Every low job that started after the high ones arrived started after the last high one finished,
    // except at most the one already taken when they arrived (concurrency 1).
    expect(lowStartedAfter.filter((t) => t.started < lastHigh).length).toBeLessThanOrEqual(1);
  });

  test('a low job waiting longer than PRIORITY_AGING goes before newer high jobs, so a busy high lane never starves it', async ({ redis, prefix, startWorker }) => {
    await startWorker({ PRIORITY_AGING: '1s' });
    const high = jobs(200, 'high', 50);
    await submit(redis, prefix, high.slice(0, 20));
    const [lonely] = jobs(1, 'low', 0);
    await submit(redis, prefix, [lonely!]);
    const enqueuedAt = Date.now();
    // Keep the high lane busy: more high work arrives than one worker can do.
    let enqueued = 20;
    for (let i = 20; i < 200; i += 10) {
      await submit(redis, prefix, high.slice(i, i + 10));
      enqueued = i + 10;
      await sleep(100);
      const [state] = await times(redis, prefix, [lonely!]);
      if (state!.status === 'completed') break;
    }
    const [done] = await waitFor(async () => {
      const all = await times(redis, prefix, [lonely!]);
      return all[0]!.status === 'completed' ? all : undefined;
    }, 'the low job to run', 10_000);
    const waited = done!.started - enqueuedAt;
    const highStates = await times(redis, prefix, high.slice(0, enqueued));
    const highStillWaiting = highStates.filter((t) => !(t.started <= done!.started)).length;
    console.log(`low job waited ${waited} ms; high jobs still waiting when it started: ${highStillWaiting}`);
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(2_500);
    expect(highStillWaiting).toBeGreaterThan(10);
  });

  test('a backlog of overdue lower jobs shares the worker with newer high jobs instead of holding them up', async ({ redis, prefix, startWorker }) => {
    // 150 normal jobs, all overdue by the time the worker starts: before, every one of them went
    // before any high job (a high job waited 138 s behind 40,000 of them).
    const normal = jobs(150, 'normal', 20);
    await submit(redis, prefix, normal);
    await sleep(1_100);
    await startWorker({ PRIORITY_AGING: '1s', CONCURRENCY: '2' });
    const high = jobs(10, 'high', 20);
    await submit(redis, prefix, high);
    const highTimes = await waitFor(async () => {
      const all = await times(redis, prefix, high);
      return all.every((t) => t.status === 'completed') ? all : undefined;
    }, 'the high jobs to finish', 20_000);
    const lastHigh = Math.max(...highTimes.map((t) => t.finished));
    const normalTimes = await times(redis, prefix, normal);
    const normalBefore = normalTimes.filter((t) => t.started <= lastHigh).length;
    console.log(`normal jobs started before the last high job finished: ${normalBefore} of 150`);
    // Half of each take went to the overdue normal jobs, the other half to the high ones: about
    // ten normal jobs ran beside the ten high ones, and the rest waited.
    expect(normalBefore).toBeGreaterThanOrEqual(5);
    expect(normalBefore).toBeLessThan(60);
    await waitFor(async () => (await times(redis, prefix, normal)).every((t) => t.status === 'completed'), 'the normal jobs to finish', 20_000);
  });
});
