import { QueueKeys } from '@conveyor/shared';
import { RedisCluster, startApi, startWorker, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { Cluster } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { countBy, FAST, report } from './fault-support.js';

/**
 * The cluster form of silent-connection.test.ts: every node of a 3-primary cluster announces a
 * proxy in front of it, so all client connections (seed and slot map alike) go through proxies,
 * which then go silent on every open connection while carrying new ones. Cluster clients must
 * notice within REDIS_TIMEOUT on their node connections and on their subscriber connection.
 */
describe('Redis Cluster connections that go silent', () => {
  test('workers and the API replace them within REDIS_TIMEOUT; jobs complete and an SSE stream still ends', { timeout: 120_000 }, async () => {
    const cluster = await RedisCluster.start(3, 0, { proxied: true });
    const prefix = 'conveyor';
    let api: ApiProcess | undefined;
    const workers: WorkerProcess[] = [];
    const submit = async (count: number) => {
      const response = await fetch(`${api!.url}/jobs/batch`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jobs: Array.from({ length: count }, (_, i) => ({ model: 'echo', prompt: `job ${i}` })) }),
      });
      expect(response.status).toBe(202);
      return ((await response.json()) as { jobs: { job_id: string }[] }).jobs.map((job) => job.job_id);
    };
    const records = (ids: string[]) => Promise.all(ids.map(async (id) => (await (await fetch(`${api!.url}/jobs/${encodeURIComponent(id)}`)).json()) as { status: string; attempts: number }));
    try {
      const env = { ...FAST, LEASE_MS: '30s', REDIS_TIMEOUT: '2s', REDIS_CLUSTER: 'true' };
      api = await startApi({ redisUrl: cluster.url, prefix, env });
      workers.push(...(await Promise.all([1, 2].map(() => startWorker({ redisUrl: cluster.url, prefix, env })))));
      const before = await submit(50);
      await waitFor(async () => (await records(before)).every((job) => job.status === 'completed'), 'the first jobs to complete');

      // A client watching a job that waits an hour: the API's subscriber connection goes silent too.
      const created = await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","delay_ms":3600000}' });
      const { job_id: watched } = (await created.json()) as { job_id: string };
      const stream = await fetch(`${api.url}/jobs/${encodeURIComponent(watched)}/events`);
      const streamText = stream.text();

      const silenced = cluster.proxies.reduce((sum, proxy) => sum + proxy.silence(), 0);
      const silentAt = Date.now();
      // Jobs sent by a new client (new connections pass): the workers must notice their silent ones.
      const producer = new Cluster([{ host: '127.0.0.1', port: cluster.proxies[0]!.port }]);
      const keys = new QueueKeys(prefix, 'inference');
      const entries = await Promise.all(Array.from({ length: 50 }, (_, i) => producer.xadd(keys.stream('infer', 'normal'), '*', 'model', 'echo', 'prompt', `after ${i}`)));
      producer.disconnect();
      const after = entries.map((entry) => `inference:${entry}`);

      // The API answers again once its connections are replaced.
      await waitFor(async () => (await fetch(`${api!.url}/readyz`)).ok, 'the API to be ready again', 30_000);
      const settled = await waitFor(async () => {
        const states = await records(after);
        return states.every((state) => state.status === 'completed') && states;
      }, 'the jobs sent after the silence to complete', 30_000);
      const recoveredMs = Date.now() - silentAt;
      expect(countBy(settled, (state) => String(state.attempts))).toEqual({ 1: after.length });

      // Its subscriber was pinged and replaced: the watched job's stream ends when the job does.
      await waitFor(async () => (await fetch(`${api!.url}/jobs/${encodeURIComponent(watched)}`, { method: 'DELETE' })).status === 200, 'the watched job to be cancelled');
      expect(await streamText).toMatch(/"status":"cancelled"|event: cancelled/);
      report('cluster connections silent', { silenced_connections: silenced, jobs_after: after.length, recovered_ms: recoveredMs });
      expect(silenced).toBeGreaterThanOrEqual(10);
    } finally {
      await Promise.all([api?.stop(5_000), ...workers.map((worker) => worker.stop(5_000))]);
      await cluster.stop();
    }
  });
});
