import { deletePrefixAt, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { afterAll, expect, inject, test } from 'vitest';
import { apiJobs } from './api-jobs.js';

/**
 * Lowering QUEUE_PARTITIONS leaves the jobs of the removed partitions where they are, and
 * nobody reads them. GET /queues lists only the partitions the setting gives, so the API and
 * every worker say at start which partitions hold such jobs, and how to drain them.
 */
const prefix = uniquePrefix('lowered');
const processes: (ApiProcess | WorkerProcess)[] = [];
let api: ApiProcess;
const { post, settled } = apiJobs(() => api.url);

afterAll(async () => {
  await Promise.all(processes.map((process) => process.stop()));
  await deletePrefixAt(inject('redisUrl'), prefix);
});

const strandedWarning = (process: ApiProcess | WorkerProcess) => process.logs().find((line) => String(line['msg']).startsWith('partitions QUEUE_PARTITIONS no longer gives hold jobs'));

test('the API and workers name the partitions a lowered QUEUE_PARTITIONS strands, with their jobs; a worker given them drains them', { timeout: 60_000 }, async () => {
  const redisUrl = inject('redisUrl');
  api = await startApi({ redisUrl, prefix, env: { QUEUE_PARTITIONS: 'inference=4' } });
  processes.push(api);
  const ids: string[] = [];
  for (let i = 0; i < 16; i++) ids.push(((await (await post('/jobs', { model: 'echo', prompt: `job ${i}` })).json()) as { job_id: string }).job_id);
  const onPartition = (index: number) => ids.filter((id) => id.startsWith(`inference.${index}:`));
  expect(onPartition(2).length + onPartition(3).length).toBeGreaterThan(0);
  await api.stop();
  processes.pop();

  const env = { QUEUE_PARTITIONS: 'inference=2', WORKER_STAGES: 'inference' };
  api = await startApi({ redisUrl, prefix, env });
  const worker = await startWorker({ redisUrl, prefix, env });
  processes.push(api, worker);
  await settled([...onPartition(0), ...onPartition(1)]);

  const expected = Object.fromEntries([2, 3].filter((index) => onPartition(index).length > 0).map((index) => [`inference.${index}`, onPartition(index).length]));
  const names = Object.keys(expected).join(',');
  for (const process of [api, worker]) {
    const warning = await waitFor(() => strandedWarning(process), 'the warning');
    expect(warning['partitions'], process.describe()).toEqual(expected);
    expect(String(warning['msg'])).toContain(`They wait until a worker is given them by name (WORKER_STAGES=${names}) and drains them`);
  }

  const drainer = await startWorker({ redisUrl, prefix, env: { QUEUE_PARTITIONS: 'inference=2', WORKER_STAGES: names } });
  processes.push(drainer);
  await settled([...onPartition(2), ...onPartition(3)]);
  // It drains them: nothing to warn of.
  expect(strandedWarning(drainer)).toBeUndefined();
});
