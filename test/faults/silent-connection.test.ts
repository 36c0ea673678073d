import { RedisServer, TcpProxy, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { describe, expect, test } from 'vitest';
import { connect, enqueueEcho, FAST, report, statesOf } from './fault-support.js';

/**
 * A Redis connection whose peer vanished without closing it (a node lost in a failover, a NAT
 * that dropped the flow) sends nothing and reports no error: TCP itself notices only after hours.
 * Workers and the API reach Redis through a proxy that goes silent on every open connection while
 * still carrying new ones, and must notice within REDIS_TIMEOUT, reconnect and go on.
 */
describe('Redis connections that go silent', () => {
  test('workers and the API replace them within REDIS_TIMEOUT and every job completes', { timeout: 120_000 }, async () => {
    const server = await RedisServer.start();
    const proxy = await TcpProxy.start(server.port);
    const prefix = uniquePrefix('silent');
    const redis = connect(server.url);
    let api: ApiProcess | undefined;
    const workers: WorkerProcess[] = [];
    try {
      const env = { ...FAST, LEASE_MS: '30s', REDIS_TIMEOUT: '2s' };
      api = await startApi({ redisUrl: proxy.url, prefix, env });
      workers.push(...(await Promise.all([1, 2].map(() => startWorker({ redisUrl: proxy.url, prefix, env })))));

      const before = await enqueueEcho(redis, prefix, 50, 0, 20);
      await waitFor(async () => (await statesOf(redis, prefix, before)).every((state) => state.status === 'completed'), 'the first jobs to complete');

      // A client watching a job over SSE: the API's subscriber connection goes silent too.
      const created = await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","delay_ms":600000}' });
      const { job_id: watched } = (await created.json()) as { job_id: string };
      const stream = await fetch(`${api.url}/jobs/${watched}/events`);
      const streamText = stream.text();

      const silenced = proxy.silence();
      const silentAt = Date.now();
      const after = await enqueueEcho(redis, prefix, 50, 0, 20);
      await waitFor(async () => (await statesOf(redis, prefix, after)).every((state) => state.status === 'completed'), 'the jobs sent after the silence to complete', 30_000);
      const recoveredMs = Date.now() - silentAt;

      // The API notices too: it answers again once its connection is replaced.
      await waitFor(async () => (await fetch(`${api!.url}/readyz`)).ok, 'the API to be ready again', 30_000);
      const submitted = await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","prompt":"after"}' });
      expect(submitted.status).toBe(202);

      // Its subscriber pings, so it is replaced as well: the watched job's stream ends when the job does.
      await waitFor(async () => (await fetch(`${api!.url}/jobs/${watched}`, { method: 'DELETE' })).status === 200, 'the watched job to be cancelled');
      expect(await streamText).toMatch(/"status":"cancelled"|event: cancelled/);

      const states = await statesOf(redis, prefix, after);
      expect(states.every((state) => state.attempts === 1)).toBe(true);
      report('silent connections', { silenced_connections: silenced, jobs_after: after.length, recovered_ms: recoveredMs });
      expect(silenced).toBeGreaterThanOrEqual(8);
    } finally {
      await Promise.all([api?.stop(5_000), ...workers.map((worker) => worker.stop(5_000))]);
      redis.disconnect();
      await proxy.stop();
      await server.stop();
    }
  });
});
