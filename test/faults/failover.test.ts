import { RedisServer, startApi, startWorker, TcpProxy, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { connect, enqueueEcho, FAST, report, statesOf } from './fault-support.js';

/**
 * A managed Redis fails over: the replica becomes the primary, the old primary a replica of it,
 * and the one address clients use now leads to the new primary. Connections opened before still
 * reach the old node, which refuses every write with READONLY. The API and workers must take
 * that as a sign to connect again (reaching the new primary), not answer 503 and retry forever.
 */
describe('a failover that leaves open connections on the old primary', () => {
  test('the API and workers reconnect on READONLY and every job completes on the new primary', { timeout: 120_000 }, async () => {
    const first = await RedisServer.start();
    const second = await RedisServer.start();
    const proxy = await TcpProxy.start(first.port);
    const prefix = uniquePrefix('failover');
    const admin = { first: new Redis(first.url), second: new Redis(second.url) };
    let api: ApiProcess | undefined;
    const workers: WorkerProcess[] = [];
    try {
      await admin.second.replicaof('127.0.0.1', first.port);
      const synced = async (node: Redis) => /master_link_status:up/.test(await node.info('replication'));
      await waitFor(() => synced(admin.second), 'the replica to sync');

      const env = { ...FAST, LEASE_MS: '30s' };
      api = await startApi({ redisUrl: proxy.url, prefix, env });
      workers.push(...(await Promise.all([1, 2].map(() => startWorker({ redisUrl: proxy.url, prefix, env })))));
      const before = await enqueueEcho(connect(first.url), prefix, 50, 0, 20);
      const onFirst = connect(first.url);
      await waitFor(async () => (await statesOf(onFirst, prefix, before)).every((state) => state.status === 'completed'), 'the jobs before the failover to complete');
      onFirst.disconnect();

      // The failover: the replica takes over, the old primary follows it, the address moves.
      await admin.second.replicaof('NO', 'ONE');
      await admin.first.replicaof('127.0.0.1', second.port);
      proxy.retarget(second.port);
      const failedOverAt = Date.now();
      await waitFor(() => synced(admin.first), 'the old primary to follow the new one');

      const primary = connect(second.url);
      const after = await enqueueEcho(primary, prefix, 50, 0, 20);
      await waitFor(async () => (await statesOf(primary, prefix, after)).every((state) => state.status === 'completed'), 'the jobs after the failover to complete', 30_000);
      const recoveredMs = Date.now() - failedOverAt;
      expect((await statesOf(primary, prefix, after)).every((state) => state.attempts === 1)).toBe(true);

      // The API: a request may meet the old node once (503, Redis refused it: nothing written);
      // the connection is then replaced and the next one is stored on the new primary.
      const answers: number[] = [];
      for (let i = 0; i < 20 && answers.at(-1) !== 202; i++) {
        const response = await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","prompt":"after failover"}' });
        answers.push(response.status);
        if (response.status !== 202) {
          expect(response.status).toBe(503);
          expect(((await response.json()) as { detail: string }).detail).toMatch(/Nothing was written/);
          await sleep(200);
        }
      }
      expect(answers.at(-1)).toBe(202);
      expect(answers.length).toBeLessThanOrEqual(3);

      report('failover', { jobs_after: after.length, recovered_ms: recoveredMs, api_answers: answers.join(',') });
      primary.disconnect();
    } finally {
      await Promise.all([api?.stop(5_000), ...workers.map((worker) => worker.stop(5_000))]);
      admin.first.disconnect();
      admin.second.disconnect();
      await proxy.stop();
      await Promise.all([first.stop(), second.stop()]);
    }
  });
});
