import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { expect, inject, test } from 'vitest';
import { connect, FAST, report } from './fault-support.js';

test('a job that always fails is dead-lettered with its error history while 500 jobs behind it complete; once the cause is fixed, retrying it from the dead letter works', { timeout: 90_000 }, async () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('poison');
  let api: ApiProcess | undefined;
  let workers: WorkerProcess[] = [];
  const redis = connect(redisUrl);
  const post = async (body: object) => {
    const response = await fetch(`${api!.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(202);
    return ((await response.json()) as { job_id: string }).job_id;
  };
  const get = async (path: string) => (await (await fetch(`${api!.url}${path}`)).json()) as Record<string, unknown>;
  try {
    api = await startApi({ redisUrl, prefix, env: FAST });
    workers = await Promise.all([1, 2].map(() => startWorker({ redisUrl, prefix, env: FAST })));
    // The model behind the poison job is "down" for 4 s: every attempt before then fails.
    const fixedAt = Date.now() + 4_000;
    const started = Date.now();
    const poison = await post({ model: 'echo', prompt: 'poison', max_attempts: 3, backoff: { type: 'fixed', delay_ms: 100 }, params: { fail_until: fixedAt } });
    const good = await Promise.all(Array.from({ length: 500 }, (_, i) => post({ model: 'echo', prompt: `good ${i}` })));

    const dead = await waitFor(async () => {
      const job = await get(`/jobs/${poison}`);
      return job['status'] === 'dead' ? job : undefined;
    }, 'the poison job to be dead-lettered');
    const deadAfter = Date.now() - started;
    expect(dead).toMatchObject({ attempts: 3, error: { retryable: true, message: expect.stringContaining('is down until') } });
    expect(dead['errors']).toHaveLength(3);
    const goodStates = await waitFor(async () => {
      const all = await Promise.all(good.map((id) => redis.hget(`${prefix}:{inference}:job:${id}`, 'status')));
      return all.every((status) => status === 'completed') ? all : undefined;
    }, 'the 500 good jobs to complete');
    expect(goodStates).toHaveLength(500);
    const listed = (await get('/queues/inference/dead')) as { jobs: { job_id: string; errors: unknown[] }[] };
    expect(listed.jobs.map((job) => job.job_id)).toEqual([poison]);
    expect(listed.jobs[0]!.errors).toHaveLength(3);

    // Retrying before the cause is fixed would fail again; wait for the fix, then retry.
    await waitFor(() => Date.now() > fixedAt, 'the model to be fixed', 10_000);
    const retried = await fetch(`${api.url}/jobs/${poison}/retry`, { method: 'POST' });
    expect(retried.status).toBe(202);
    const completed = await waitFor(async () => {
      const job = await get(`/jobs/${poison}`);
      return job['status'] === 'completed' ? job : undefined;
    }, 'the retried job to complete');
    expect(completed).toMatchObject({ id: poison, attempts: 1, result: { text: 'poison' } });
    expect(completed['errors']).toHaveLength(3);
    expect(((await get('/queues/inference/dead')) as { jobs: unknown[] }).jobs).toEqual([]);
    report('poison job', { 'dead-lettered after ms': deadAfter, 'errors kept': 3, 'good jobs completed': 500, 'completed after retry': true });
  } finally {
    await Promise.all([api?.stop(), ...workers.map((worker) => worker.stop())]);
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
});
