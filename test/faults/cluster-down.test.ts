import { RedisCluster, startApi, startWorker, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { FAST, report } from './fault-support.js';

/** CPU time (user + system) a process has used, in ms, from /proc (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * Every node of a Redis Cluster goes down at once, then comes back (its data lost: no AOF). The
 * API and a worker wait without busying a core (ioredis replaced the cluster's subscriber
 * connection in a loop with no pause: a worker used a whole core), then carry on: consumer
 * groups are made again, jobs complete, and the control channel reaches the worker again.
 */
describe('a whole Redis Cluster down and back', () => {
  test('the API and a worker wait quietly, then take and run jobs again', { timeout: 120_000 }, async () => {
    const cluster = await RedisCluster.start(3);
    const token = 'cluster-down-token-0123456789';
    let api: ApiProcess | undefined;
    let worker: WorkerProcess | undefined;
    try {
      const env = { ...FAST, REDIS_CLUSTER: 'true', REDIS_TIMEOUT: '2s' };
      [api, worker] = await Promise.all([startApi({ redisUrl: cluster.url, prefix: 'conveyor', env: { ...env, ADMIN_TOKEN: token } }), startWorker({ redisUrl: cluster.url, prefix: 'conveyor', env })]);
      await Promise.all(cluster.nodes.map((node) => node.kill('SIGKILL')));
      await sleep(2_000);
      const [workerBefore, apiBefore] = [cpuMs(worker.pid), cpuMs(api.pid)];
      await sleep(4_000);
      const idle = { worker_cpu_ms: cpuMs(worker.pid) - workerBefore, api_cpu_ms: cpuMs(api.pid) - apiBefore };
      // Waiting costs a few ms a second, not a core (4,000 ms over these 4 s before the fix).
      expect(idle.worker_cpu_ms).toBeLessThan(1_000);
      expect(idle.api_cpu_ms).toBeLessThan(1_000);
      expect((await fetch(`${api.url}/readyz`)).status).toBe(503);

      const backAt = Date.now();
      for (const node of cluster.nodes) await node.restart();
      await waitFor(async () => (await fetch(`${api!.url}/readyz`)).ok, 'the API to be ready again', 30_000);
      const posted = await waitFor(async () => {
        const response = await fetch(`${api!.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","prompt":"after the cluster came back"}' });
        return response.status === 202 && ((await response.json()) as { job_id: string }).job_id;
      }, 'the API to take a job', 30_000);
      await waitFor(async () => ((await (await fetch(`${api!.url}/jobs/${posted}`)).json()) as { status: string }).status === 'completed', 'the job to complete', 30_000);
      const recoveredMs = Date.now() - backAt;
      const broadcast = await fetch(`${api.url}/admin/broadcast`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"type":"reload-config"}' });
      expect(((await broadcast.json()) as { delivered_to: number }).delivered_to).toBe(1);
      await waitFor(() => worker!.logs().some((line) => line['msg'] === 'control message received'), 'the worker to receive the broadcast');
      report('whole cluster down and back', { ...idle, job_completed_after_restart_ms: recoveredMs });
    } finally {
      await Promise.all([api?.stop(5_000), worker?.stop(5_000)]);
      await cluster.stop();
    }
  });
});
