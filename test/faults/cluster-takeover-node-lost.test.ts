import { createRedis, enqueueJobs, ensureGroups, findPipeline, groupName, newJobId, QueueKeys, scripts, takeJobs } from '@conveyor/shared';
import { RedisCluster, startApi, startWorker, takeRequest, TEST_LIMITS, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { FAST, report } from './fault-support.js';

/**
 * A Redis Cluster primary is lost just as a worker's takeover of a lapsed job is on its way to
 * it (its connection goes silent as the script is sent, as in a failover). The takeover waits for
 * REDIS_TIMEOUT; the slots it keeps must be the lapsed job's only, so the worker's other queues,
 * on other primaries, go on at once. Keeping every free slot for it, the worker took another
 * queue's document only when the connection was replaced (3.6 s and 4.5 s in
 * cluster-failover.test.ts, where the node was killed). The other queue's housekeeping goes on
 * too: its own lapsed job is taken over while the first takeover waits (each queue ticks on its
 * own; in one tick for every queue, it waited out REDIS_TIMEOUT behind the first).
 */
describe('a Redis Cluster primary lost while a takeover is on its way to it', () => {
  test("another queue's jobs are taken and its lapsed job taken over at once; the lapsed job is taken over once the connection is replaced", { timeout: 60_000 }, async () => {
    const cluster = await RedisCluster.start(3, 0, { proxied: true });
    const prefix = 'conveyor';
    const keys = new QueueKeys(prefix, 'inference');
    const redis = createRedis(cluster.url, { role: 'command', name: 'test', cluster: true });
    let api: ApiProcess | undefined;
    let worker: WorkerProcess | undefined;
    try {
      const documents = new QueueKeys(prefix, 'documents');
      const inference = await cluster.nodeOf(keys.base);
      expect(await cluster.nodeOf(documents.base)).not.toBe(inference);
      // A job held by a worker that then died: its lease lapses 3 s later.
      await ensureGroups(redis, prefix, [findPipeline('inference')!, findPipeline('documents')!]);
      const heldAt = Date.now();
      const lapsedId = newJobId('inference');
      await enqueueJobs(redis, keys, 'infer', [{ id: lapsedId, lane: 'normal', payload: '{"model":"echo","prompt":"held by a dead worker"}' }], TEST_LIMITS);
      expect((await takeJobs(redis, keys, takeRequest({ consumer: 'dead-worker', count: 1 }))).jobs).toHaveLength(1);

      // A word that it reads a queue lasts 10 intervals: 2.5 s here, which a loaded machine does not
      // starve (at FAST's 100 ms, 1 s, samples read 0 live consumers under a parallel test run).
      const env = { ...FAST, MAINTENANCE_INTERVAL: '250ms', LEASE_MS: '3s', REDIS_CLUSTER: 'true', REDIS_TIMEOUT: '5s', CONCURRENCY: '4' };
      api = await startApi({ redisUrl: cluster.url, prefix, env });
      // A document held by the dead worker too, from 1 s later: its lease lapses while the
      // inference takeover waits on the lost primary.
      const heldDocument = new FormData();
      heldDocument.append('file', new Blob(['Held by a worker that died, on the healthy primary.']), 'held.txt');
      const heldUpload = await fetch(`${api.url}/documents`, { method: 'POST', body: heldDocument });
      expect(heldUpload.status).toBe(202);
      const { job_id: heldDocumentId } = (await heldUpload.json()) as { job_id: string };
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, heldAt + 1_000 - Date.now())));
      expect((await takeJobs(redis, documents, takeRequest({ stage: 'extract', consumer: 'dead-worker', count: 1 }))).jobs.map((job) => job.jobId)).toEqual([heldDocumentId]);
      // The takeover script goes as EVAL (its text, which starts with its header) the first time on a connection, as EVALSHA after.
      // Set before the worker starts: a start slower than the lease (under load) sent the takeover
      // before the trap was set, and the test waited for a loss that never came.
      const reclaim = scripts.find((script) => script.name === 'reclaim')!.lua;
      const lost = cluster.proxies[cluster.nodes.indexOf(inference)]!.silenceOn(reclaim.slice(0, 200), createHash('sha1').update(reclaim).digest('hex')).then(() => Date.now());
      worker = await startWorker({ redisUrl: cluster.url, prefix, env });
      const lostAt = await lost;
      // The worker still says it reads the documents queue, on its healthy primary, while the
      // takeover waits: said at the start of each maintenance tick, its word (1 s here) lapsed
      // while the tick waited out REDIS_TIMEOUT, and GET /queues showed no live consumer.
      const liveCounts: number[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const stats = (await (await fetch(`${api!.url}/queues/documents`)).json()) as { stages: { live_consumers: number }[] };
          liveCounts.push(stats.stages[0]!.live_consumers);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })();

      const form = new FormData();
      form.append('file', new Blob(['A queue on another primary goes on while the takeover waits.']), 'other.txt');
      const upload = await fetch(`${api.url}/documents`, { method: 'POST', body: form });
      expect(upload.status).toBe(202);
      const { job_id: documentId } = (await upload.json()) as { job_id: string };
      const record = async (id: string) => (await (await fetch(`${api!.url}/jobs/${encodeURIComponent(id)}`)).json()) as { status: string; attempts: number; stages?: { name: string; status: string; attempts: number; started_at: string | null }[] };
      const started = await waitFor(async () => (await record(documentId)).stages?.find((stage) => stage.name === 'extract')?.started_at ?? undefined, 'the document to be taken', 15_000);
      const takenMs = Date.parse(started) - lostAt;
      expect(takenMs).toBeLessThan(1_000);
      // The dead worker's document is taken over on its own queue's tick, before the connection
      // to the lost primary is replaced and the inference takeover answered.
      const heldByDead = async () => ((await redis.xpending(documents.stream('extract', 'normal'), groupName('extract'), '-', '+', 10)) as [string, string][]).some(([, consumer]) => consumer === 'dead-worker');
      await waitFor(async () => !(await heldByDead()), "the dead worker's document to be taken over", 20_000);
      const documentTakenOverMs = Date.now() - lostAt;
      expect((await record(lapsedId)).attempts).toBe(1);

      const lapsed = await waitFor(async () => {
        const job = await record(lapsedId);
        return job.status === 'completed' && job;
      }, 'the lapsed job to be taken over and completed', 20_000);
      expect(lapsed.attempts).toBe(2);
      const takenOverMs = Date.now() - lostAt;
      sampling = false;
      await sampler;
      expect(liveCounts.length).toBeGreaterThan(10);
      expect(liveCounts.filter((count) => count !== 1)).toEqual([]);
      expect(takenOverMs).toBeGreaterThan(documentTakenOverMs);
      for (const id of [documentId, heldDocumentId]) await waitFor(async () => (await record(id)).status === 'completed', `document ${id} to complete`, 30_000);
      expect((await record(heldDocumentId)).stages?.find((stage) => stage.name === 'extract')).toMatchObject({ attempts: 2, status: 'completed' });
      report('cluster primary lost under a takeover', { other_queue_document_taken_ms: takenMs, other_queue_lapsed_document_taken_over_ms: documentTakenOverMs, lapsed_job_completed_ms: takenOverMs, live_consumer_samples: liveCounts.length });
    } finally {
      redis.disconnect();
      await Promise.all([api?.stop(5_000), worker?.stop(5_000)]);
      await cluster.stop();
    }
  });
});
