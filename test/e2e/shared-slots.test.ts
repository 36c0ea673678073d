import { createRedis } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { expect, inject, test } from 'vitest';

/**
 * A worker's slots are shared by every queue (and partition) it serves. A busy queue's
 * completions take its next jobs in the same call: while another queue has jobs waiting, they
 * must not, or that queue's jobs wait until the busy one's backlog runs out.
 */

interface Job {
  status: string;
  started_at: string | null;
}

async function withStack(env: Record<string, string>, body: (api: ApiProcess) => Promise<void>) {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('shared-slots');
  const api = await startApi({ redisUrl, prefix, env });
  let worker: WorkerProcess | undefined;
  try {
    worker = await startWorker({ redisUrl, prefix, env: { ...env, CONCURRENCY: '2' } });
    await body(api);
  } finally {
    await Promise.all([api.stop(), worker?.stop()]);
    const redis = createRedis(redisUrl, { role: 'command', name: 'cleanup' });
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
}

/** Queues 500 echo jobs of 50 ms: 12.5 s of work for a worker with 2 slots. */
async function backlog(api: ApiProcess): Promise<void> {
  const jobs = Array.from({ length: 500 }, (_, i) => ({ model: 'echo', prompt: `backlog ${i}`, params: { sleep_ms: 50 } }));
  const answer = await fetch(`${api.url}/jobs/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jobs }) });
  expect(answer.status).toBe(202);
  const ids = ((await answer.json()) as { jobs: { job_id: string }[] }).jobs.map((job) => job.job_id);
  // The worker is busy with them, taking each next one along with the completions before it.
  await waitFor(async () => (await Promise.all(ids.slice(0, 20).map((id) => getJob(api, id)))).every((job) => job.status === 'completed'), 'the backlog to be under way');
}

const getJob = async (api: ApiProcess, id: string) => (await (await fetch(`${api.url}/jobs/${encodeURIComponent(id)}`)).json()) as Job;

/** Milliseconds from now until the job has started. */
async function startsWithin(api: ApiProcess, id: string): Promise<number> {
  const since = Date.now();
  await waitFor(async () => (await getJob(api, id)).started_at !== null, `${id} to start`, 20_000, 50);
  return Date.now() - since;
}

test("a document uploaded behind another queue's backlog starts within a few jobs' time, not once the backlog has run out", { timeout: 60_000 }, async () => {
  await withStack({}, async (api) => {
    await backlog(api);
    const body = new FormData();
    body.append('file', new Blob(['A short document to read while the worker is busy with inference jobs.']), 'doc.txt');
    const upload = await fetch(`${api.url}/documents`, { method: 'POST', body });
    expect(upload.status).toBe(202);
    const { job_id } = (await upload.json()) as { job_id: string };
    expect(await startsWithin(api, job_id)).toBeLessThan(3_000);
  });
});

test('a high-priority job on any partition of a busy queue starts within a few jobs\' time, whichever partition the backlog is on', { timeout: 60_000 }, async () => {
  await withStack({ QUEUE_PARTITIONS: 'inference=3' }, async (api) => {
    await backlog(api);
    const urgent = await Promise.all(
      [1, 2, 3].map(async (i) => {
        const answer = await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'echo', prompt: `urgent ${i}`, priority: 'high' }) });
        expect(answer.status).toBe(202);
        return ((await answer.json()) as { job_id: string }).job_id;
      }),
    );
    // The API spreads jobs over the partitions: these three are on more than one.
    expect(new Set(urgent.map((id) => id.split(':')[0])).size).toBeGreaterThan(1);
    const waits = await Promise.all(urgent.map((id) => startsWithin(api, id)));
    expect(Math.max(...waits), JSON.stringify(waits)).toBeLessThan(3_000);
  });
});
