import { deletePrefixAt, freePort, launchWorker, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { apiJobs } from './api-jobs.js';

/**
 * A consumer name is one consumer in every group: two live workers under one name would take
 * each other's jobs (each re-reads the name's pending entries as its own at start, and each one's
 * lease renewals and completions pass for the other's). So a worker claims its name while it
 * runs, and one that finds it held waits, not ready, taking nothing.
 */
const prefix = uniquePrefix('names');
let api: ApiProcess;
const { post, job, settled } = apiJobs(() => api.url);

beforeAll(async () => {
  api = await startApi({ redisUrl: inject('redisUrl'), prefix });
});

afterAll(async () => {
  await api?.stop();
  await deletePrefixAt(inject('redisUrl'), prefix);
});

const env = { WORKER_STAGES: 'inference', CONCURRENCY: '4', MAINTENANCE_INTERVAL: '200ms' };
const completedBy = (worker: { logs(): Record<string, unknown>[] }) => worker.logs().filter((line) => line['msg'] === 'job completed').map((line) => line['job_id']);

test('a second worker under a live worker\'s name waits, not ready, and runs nothing; once the first dies it takes the name and finishes the jobs the first held', { timeout: 60_000 }, async () => {
  const redisUrl = inject('redisUrl');
  const first = await startWorker({ redisUrl, prefix, env: { ...env, CONSUMER_NAME: 'shared' } });
  const port = await freePort();
  const second = launchWorker({ redisUrl, prefix, env: { ...env, CONSUMER_NAME: 'shared', WORKER_PORT: String(port) } });
  const readiness = async () => {
    const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
    return response && { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  try {
    // First said as a crashed predecessor's claim would be (a StatefulSet pod restarted at once), then, held past that, as a live worker's.
    await waitFor(() => second.logs().some((line) => line['level'] === 30 && String(line['msg']).startsWith('the consumer name "shared" is held by another worker process: one that crashed (its claim lapses within 7500 ms), or a live one')), 'the second worker to say it waits');
    expect(await readiness()).toEqual({ status: 503, body: expect.objectContaining({ status: 'not ready', state: 'starting', waiting: "for another worker process to give up the consumer name shared (a crashed one's claim lapses within 7500 ms)" }) });
    expect(second.logs().filter((line) => Number(line['level']) >= 40)).toEqual([]);
    await waitFor(() => second.logs().some((line) => line['level'] === 40 && String(line['msg']).startsWith('another live worker process uses the consumer name "shared"')), 'the second worker to warn of a live worker under its name', 15_000);
    expect((await readiness())?.body['waiting']).toBe('for another live worker process to give up the consumer name shared');

    const quick = await Promise.all(Array.from({ length: 6 }, async (_, i) => ((await (await post('/jobs', { model: 'echo', prompt: `quick ${i}` })).json()) as { job_id: string }).job_id));
    await settled(quick);
    await expect.poll(() => completedBy(first).sort()).toEqual([...quick].sort());
    expect(completedBy(second)).toEqual([]);

    // The first dies holding a job: the second takes the name once the first's claim has lapsed
    // (5 s) and stayed free a while (2.5 s), and re-reads that job as its own at once, without
    // waiting out its lease (30 s).
    const held = ((await (await post('/jobs', { model: 'echo', prompt: 'held', params: { sleep_ms: 2_000 } })).json()) as { job_id: string }).job_id;
    await waitFor(async () => (await job(held))['status'] === 'active', 'the first worker to hold the job');
    first.signal('SIGKILL');
    await first.exited;
    const killedAt = Date.now();
    await waitFor(async () => (await readiness())?.status === 200, 'the second worker to take the name', 15_000, 100);
    expect(Date.now() - killedAt).toBeLessThan(12_000);
    await settled([held]);
    // Its log line may come through the pipe after the record says completed.
    await expect.poll(() => completedBy(second)).toEqual([held]);
    expect(second.logs().some((line) => line['msg'] === 'consumer name free again: starting')).toBe(true);
    // A crashed holder's job resumed is a stall, as a takeover is, and is counted with them.
    expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain('conveyor_jobs_reclaimed_total{queue="inference",stage="infer"} 1');
  } finally {
    first.signal('SIGKILL');
    await second.stop();
  }
});

test('a worker whose claim lapsed while it stood still, and whose name another took meanwhile, stops with exit code 1', { timeout: 60_000 }, async () => {
  const redisUrl = inject('redisUrl');
  const frozen = await startWorker({ redisUrl, prefix, env: { ...env, CONSUMER_NAME: 'frozen' } });
  frozen.signal('SIGSTOP');
  let successor: WorkerProcess | undefined;
  try {
    // Started while the first stands still: it waits out the first's claim, then runs.
    successor = await startWorker({ redisUrl, prefix, env: { ...env, CONSUMER_NAME: 'frozen' } });
    frozen.signal('SIGCONT');
    const exit = await Promise.race([frozen.exited, new Promise((resolve) => setTimeout(resolve, 15_000, 'still running'))]);
    expect(exit, frozen.describe()).toEqual({ code: 1, signal: null });
    const fatal = frozen.logs().find((line) => line['level'] === 60);
    expect(String(fatal?.['msg'])).toMatch(/^another worker process took the consumer name "frozen" while this one's claim was gone/);

    // The successor runs on, and runs jobs.
    const id = ((await (await post('/jobs', { model: 'echo', prompt: 'after' })).json()) as { job_id: string }).job_id;
    await settled([id]);
    await expect.poll(() => completedBy(successor!)).toEqual([id]);
  } finally {
    frozen.signal('SIGCONT');
    frozen.signal('SIGKILL');
    await successor?.stop();
  }
});
