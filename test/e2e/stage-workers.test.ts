import { createRedis } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, test } from 'vitest';
import { QUEUE_ARTICLE } from '../../apps/worker/test/documents/texts.js';

interface Job {
  status: string;
  stage: string;
  stages: { name: string; status: string; attempts: number; worker: string | null; finished_at: string | null }[];
}

async function withStack(body: (api: ApiProcess, start: (stages: string, env?: Record<string, string>) => Promise<WorkerProcess>) => Promise<void>) {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('stages');
  const api = await startApi({ redisUrl, prefix });
  const workers: WorkerProcess[] = [];
  try {
    await body(api, async (stages, env = {}) => {
      const worker = await startWorker({ redisUrl, prefix, env: { WORKER_STAGES: stages, LEASE_MS: '1s', MAINTENANCE_INTERVAL: '100ms', ...env } });
      workers.push(worker);
      return worker;
    });
  } finally {
    await Promise.all([api.stop(), ...workers.map((worker) => worker.stop())]);
    const redis = createRedis(redisUrl, { role: 'command', name: 'cleanup' });
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
}

async function upload(api: ApiProcess, text: string): Promise<string> {
  const body = new FormData();
  body.append('file', new Blob([text]), 'doc.txt');
  return ((await (await fetch(`${api.url}/documents`, { method: 'POST', body })).json()) as { job_id: string }).job_id;
}

const getJob = async (api: ApiProcess, id: string) => (await (await fetch(`${api.url}/jobs/${id}`)).json()) as Job;
const consumerOf = (worker: WorkerProcess) => String(worker.logs().find((line) => line['msg'] === 'worker running')!['worker']);

test('a stage-specific worker never takes another stage\'s job', { timeout: 60_000 }, async () => {
  await withStack(async (api, start) => {
    const extractor = await start('documents:extract');
    const id = await upload(api, QUEUE_ARTICLE);
    await waitFor(async () => (await getJob(api, id)).stage === 'analyze', 'extract to finish');
    await sleep(1_500);
    const waiting = await getJob(api, id);
    expect(waiting).toMatchObject({ stage: 'analyze', status: 'queued' });
    expect(waiting.stages[0]).toMatchObject({ name: 'extract', status: 'completed', worker: consumerOf(extractor) });

    const rest = await start('documents:analyze,documents:summarize,documents:embed');
    const done = await waitFor(async () => {
      const job = await getJob(api, id);
      return job.status === 'completed' ? job : undefined;
    }, 'the other stages to run', 30_000);
    expect(done.stages.map((stage) => stage.worker)).toEqual([consumerOf(extractor), consumerOf(rest), consumerOf(rest), consumerOf(rest)]);
  });
});

test('a stage whose worker is killed mid-job is retried alone: earlier stages are not redone', { timeout: 90_000 }, async () => {
  await withStack(async (api, start) => {
    await start('documents:extract,documents:summarize,documents:embed');
    const analyzer = await start('documents:analyze');
    // A long document keeps analyze busy for a while.
    const long = Array.from({ length: 1_500 }, () => QUEUE_ARTICLE).join('\n\n');
    const id = await upload(api, long);
    await waitFor(async () => {
      const job = await getJob(api, id);
      return job.stage === 'analyze' && job.status === 'active';
    }, 'analyze to start', 30_000, 20);
    const before = await getJob(api, id);
    analyzer.signal('SIGKILL');
    await analyzer.exited;

    const replacement = await start('documents:analyze');
    const done = await waitFor(async () => {
      const job = await getJob(api, id);
      return job.status === 'completed' ? job : undefined;
    }, 'the job to complete after the analyze stage is retried', 60_000);
    const [extract, analyze] = done.stages;
    expect(extract).toEqual(before.stages[0]);
    expect(extract).toMatchObject({ status: 'completed', attempts: 1 });
    expect(analyze).toMatchObject({ status: 'completed', attempts: 2, worker: consumerOf(replacement) });
    expect(done.stages.slice(2).every((stage) => stage.attempts === 1)).toBe(true);
  });
});
