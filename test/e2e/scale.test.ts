import { createRedis, enqueueJobs, newJobId, QueueKeys } from '@conveyor/shared';
import { deletePrefix, startWorker, uniquePrefix, waitFor, type WorkerProcess } from '@conveyor/testing';
import { afterAll, expect, inject, test } from 'vitest';

const prefix = uniquePrefix('e2e-scale');
const workers: WorkerProcess[] = [];

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop()));
  const redis = createRedis(inject('redisUrl'), { role: 'command', name: 'cleanup' });
  await deletePrefix(redis, prefix);
  redis.disconnect();
});

test('300 queued jobs are spread across 3 workers: each worker processes some, no job runs twice', async () => {
  const redisUrl = inject('redisUrl');
  const redis = createRedis(redisUrl, { role: 'command', name: 'producer' });
  const keys = new QueueKeys(prefix, 'inference');
  try {
    const jobs = Array.from({ length: 300 }, (_, i) => ({ id: newJobId('inference'), lane: 'normal' as const, payload: JSON.stringify({ model: 'echo', prompt: `job ${i}`, params: { sleep_ms: 20 } }) }));
    // Start the workers first and enqueue after, so that none gets a head start on a full queue.
    workers.push(...(await Promise.all([1, 2, 3].map(() => startWorker({ redisUrl, prefix, env: { CONCURRENCY: '4' } })))));
    expect((await enqueueJobs(redis, keys, 'infer', jobs, { idempotencyTtlSeconds: 60, maxBacklog: 0 })).ok).toBe(true);

    const records = await waitFor(async () => {
      const all = await Promise.all(jobs.map((job) => redis.hmget(keys.job(job.id), 'status', 'worker', 'attempts')));
      return all.every(([status]) => status === 'completed') ? all : undefined;
    }, 'all 300 jobs to complete', 60_000, 200);

    const byWorker = new Map<string, number>();
    for (const [, worker, attempts] of records) {
      expect(attempts).toBe('1');
      byWorker.set(worker!, (byWorker.get(worker!) ?? 0) + 1);
    }
    console.log(`jobs per worker: ${[...byWorker.values()].join(', ')}`);
    expect(byWorker.size).toBe(3);
    for (const count of byWorker.values()) expect(count).toBeGreaterThan(30);

    // Each job's completion was logged exactly once, by exactly one worker.
    // The log lines may come through the pipes after the records say completed.
    const completions = () => workers.flatMap((worker) => worker.logs().filter((line) => line['msg'] === 'job completed').map((line) => line['job_id']));
    await expect.poll(() => completions().length).toBeGreaterThanOrEqual(300);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(completions()).toHaveLength(300);
    expect(new Set(completions()).size).toBe(300);
    expect((await redis.xpending(keys.stream('infer', 'normal'), 'infer'))[0]).toBe(0);
  } finally {
    redis.disconnect();
  }
});
