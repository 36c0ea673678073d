import { QueueKeys } from '@conveyor/shared';
import { RedisCluster, startApi, startWorker, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { countBy, FAST, report } from './fault-support.js';

/**
 * What partitions are for: a queue split over the primaries of a Redis Cluster keeps taking and
 * running jobs while one primary is lost. The primary serving some of `inference`'s partitions is
 * killed (SIGKILL); until its replica takes over, POSTs that fall to its partitions get a 503 and
 * the rest are accepted and completed. Afterwards every accepted job completes once.
 */
const PARTITIONS = 6;

describe('a Redis Cluster primary serving some partitions of a queue is killed', () => {
  test('the partitions on other primaries keep taking and completing jobs during the failover; nothing accepted is lost', { timeout: 120_000 }, async () => {
    const cluster = await RedisCluster.start(3, 1);
    const prefix = 'conveyor';
    let api: ApiProcess | undefined;
    const workers: WorkerProcess[] = [];
    try {
      const env = { ...FAST, LEASE_MS: '15s', REDIS_CLUSTER: 'true', REDIS_TIMEOUT: '2s', QUEUE_PARTITIONS: `inference=${PARTITIONS}` };
      api = await startApi({ redisUrl: cluster.url, prefix, env });
      workers.push(...(await Promise.all([1, 2].map(() => startWorker({ redisUrl: cluster.url, prefix, env })))));
      const nodes = await Promise.all(Array.from({ length: PARTITIONS }, (_, i) => cluster.nodeOf(new QueueKeys(prefix, `inference.${i}`).base)));
      const primary = nodes[0]!;
      const lost = new Set(nodes.flatMap((node, i) => (node === primary ? [String(i)] : [])));
      expect(lost.size).toBeGreaterThan(0);
      expect(lost.size).toBeLessThan(PARTITIONS);
      const partitionOf = (id: string) => /^inference\.(\d+):/.exec(id)![1]!;
      const record = async (id: string) => (await (await fetch(`${api!.url}/jobs/${encodeURIComponent(id)}`)).json()) as { status: string; attempts: number; finished_at: string | null };
      const post = async () => {
        const response = await fetch(`${api!.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","prompt":"partitioned"}' });
        return { status: response.status, body: (await response.json()) as { job_id?: string; detail?: string } };
      };

      await primary.kill('SIGKILL');
      const killedAt = Date.now();
      const accepted: string[] = [];
      const unknown: string[] = [];
      const refusedBy = new Map<number, number>();
      let lostPartitionAcceptedAt: number | undefined;
      // Four clients POST until a job lands on a lost partition again: its slots have a primary
      // once more. (A POST that falls to a lost partition waits while the cluster client looks
      // for a primary, then gets its 503; the others do not wait for it.)
      const client = async () => {
        while (lostPartitionAcceptedAt === undefined && Date.now() - killedAt < 40_000) {
          const { status, body } = await post();
          if (status === 202) {
            accepted.push(body.job_id!);
            if (lost.has(partitionOf(body.job_id!))) lostPartitionAcceptedAt ??= Date.now();
            continue;
          }
          expect(status, body.detail).toBe(503);
          refusedBy.set(status, (refusedBy.get(status) ?? 0) + 1);
          if (body.job_id) unknown.push(body.job_id);
          await sleep(50);
        }
      };
      await Promise.all([1, 2, 3, 4].map(client));
      expect(lostPartitionAcceptedAt).toBeDefined();
      const failoverMs = lostPartitionAcceptedAt! - killedAt;
      // Jobs accepted on the other partitions while the lost ones waited for their replica (how
      // many of them ran meanwhile is reported: 0 to 31 in runs here, see the README).
      const duringFailover = accepted.filter((id) => !lost.has(partitionOf(id)));
      const finishedDuring = (await Promise.all(duringFailover.map(record))).filter((job) => job.finished_at !== null && Date.parse(job.finished_at) < lostPartitionAcceptedAt!);
      expect(duringFailover.length).toBeGreaterThan(10);

      // A 503 that could not tell whether its job was stored named it: GET says which.
      for (const id of unknown) {
        const status = (await fetch(`${api.url}/jobs/${encodeURIComponent(id)}`)).status;
        expect([200, 404]).toContain(status);
        if (status === 200) accepted.push(id);
      }
      const deadline = Date.now() + 30_000;
      let states = await Promise.all(accepted.map(record));
      while (!states.every((job) => job.status === 'completed') && Date.now() < deadline) {
        await sleep(250);
        states = await Promise.all(accepted.map(record));
      }
      expect(countBy(states, (job) => job.status)).toEqual({ completed: accepted.length });
      expect(countBy(states, (job) => String(job.attempts))).toEqual({ 1: accepted.length });
      report('cluster primary of some partitions killed', {
        partitions: PARTITIONS,
        lost_partitions: [...lost].join(','),
        failover_ms: failoverMs,
        accepted: accepted.length,
        refused_503: refusedBy.get(503) ?? 0,
        outcome_unknown: unknown.length,
        other_partitions_accepted_during_failover: duringFailover.length,
        other_partitions_completed_during_failover: finishedDuring.length,
        blocking_reads_replaced: workers.flatMap((worker) => worker.logs()).filter((line) => line['msg'] === 'a blocking read got no answer; reading on a new connection').length,
      });
    } finally {
      await Promise.all([api?.stop(5_000), ...workers.map((worker) => worker.stop(5_000))]);
      await cluster.stop();
    }
  });
});
