import { QueueKeys } from '@conveyor/shared';
import { RedisCluster, startApi, startWorker, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { countBy, FAST, report } from './fault-support.js';

/**
 * A primary of a Redis Cluster dies (SIGKILL) while workers hold jobs of the queue it serves; its
 * replica takes over after the node timeout (2 s here). The cluster clients must find the new
 * primary on their own: held jobs complete, the API takes jobs again, nothing is lost.
 */
describe('a Redis Cluster primary is killed', () => {
  test('its replica takes over: held and waiting jobs complete, and the API takes jobs again within seconds', { timeout: 120_000 }, async () => {
    const cluster = await RedisCluster.start(3, 1);
    const prefix = 'conveyor';
    let api: ApiProcess | undefined;
    const workers: WorkerProcess[] = [];
    try {
      const env = { ...FAST, LEASE_MS: '15s', REDIS_CLUSTER: 'true', REDIS_TIMEOUT: '2s' };
      api = await startApi({ redisUrl: cluster.url, prefix, env });
      workers.push(...(await Promise.all([1, 2].map(() => startWorker({ redisUrl: cluster.url, prefix, env })))));
      const primary = await cluster.nodeOf(new QueueKeys(prefix, 'inference').base);
      const [replica] = await cluster.replicasOf(primary);
      expect(replica).toBeDefined();
      const survivor = cluster.nodes.find((node) => node !== primary && node !== replica)!;

      const submit = async (count: number, sleepMs: number) => {
        const response = await fetch(`${api!.url}/jobs/batch`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jobs: Array.from({ length: count }, (_, i) => ({ model: 'echo', prompt: `job ${i}`, params: { sleep_ms: sleepMs } })) }),
        });
        expect(response.status).toBe(202);
        return ((await response.json()) as { jobs: { job_id: string }[] }).jobs.map((job) => job.job_id);
      };
      const records = (ids: string[]) => Promise.all(ids.map(async (id) => (await (await fetch(`${api!.url}/jobs/${encodeURIComponent(id)}`)).json()) as { status: string; attempts: number }));
      // 10 jobs held across 16 slots (2 workers × CONCURRENCY 8): slots stay free for other queues.
      const before = await submit(10, 2_000);
      await waitFor(async () => (await records(before)).every((job) => job.status === 'active'), 'the workers to hold the jobs');
      await sleep(100);

      await primary.kill('SIGKILL');
      const killedAt = Date.now();
      // The documents queue lives on another primary: it carries on meanwhile.
      expect(await cluster.nodeOf(new QueueKeys(prefix, 'documents').base, survivor)).not.toBe(primary);
      const form = new FormData();
      form.append('file', new Blob(['Another queue on another primary keeps moving while this one fails over.']), 'other.txt');
      const upload = await fetch(`${api.url}/documents`, { method: 'POST', body: form });
      expect(upload.status).toBe(202);
      const { job_id: documentId } = (await upload.json()) as { job_id: string };
      const document = waitFor(async () => (await records([documentId]))[0]!.status === 'completed' && Date.now() - killedAt, 'the document to complete', 20_000);
      const documentTakenMs = async (id: string) => {
        const record = (await (await fetch(`${api!.url}/jobs/${encodeURIComponent(id)}`)).json()) as { stages: { name: string; started_at: string | null }[] };
        return Date.parse(record.stages.find((stage) => stage.name === 'extract')!.started_at ?? '') - killedAt;
      };
      // Another, once the readers of the lost queue have given up on their blocking reads (BLOCK_MS
      // after the node dropped): their next takes wait for the failover, and must do so without
      // keeping the workers' free slots from this queue.
      await sleep(Math.max(0, killedAt + 1_500 - Date.now()));
      const later = new FormData();
      later.append('file', new Blob(['A second document, sent while the failover goes on.']), 'later.txt');
      const laterUpload = await fetch(`${api.url}/documents`, { method: 'POST', body: later });
      expect(laterUpload.status).toBe(202);
      const laterSentMs = Date.now() - killedAt;
      const { job_id: laterId } = (await laterUpload.json()) as { job_id: string };
      // The API answers 503 while the queue's slots have no primary, then 202 again.
      const answers: number[] = [];
      const unknown: string[] = [];
      const after: string[] = [];
      while (Date.now() - killedAt < 30_000) {
        const response = await fetch(`${api.url}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"echo","prompt":"after the kill"}' });
        answers.push(response.status);
        const body = (await response.json()) as { job_id?: string; detail?: string };
        if (response.status === 202) {
          after.push(body.job_id!);
          break;
        }
        expect(response.status, body.detail).toBe(503);
        // No internal address reaches the client; a job that may have been stored is named.
        expect(body.detail).not.toContain(String(primary.port));
        if (body.job_id) unknown.push(body.job_id);
        await sleep(200);
      }
      const acceptingMs = Date.now() - killedAt;
      const documentMs = await document;
      // Taken at once, not after the failover (its 4 stages then take a fresh worker's model loading):
      // within tens of ms in most runs. In some, the cluster client leaves the read on the other
      // node unanswered (see queue-reader.ts); the reader replaces it BLOCK_MS (1 s) after its
      // client dropped the dead node. Once it took 3.8 s, when only BLOCK_MS + REDIS_TIMEOUT did.
      const takenMs = await documentTakenMs(documentId);
      expect(takenMs).toBeLessThan(2_000);
      const laterTakenMs = (await waitFor(async () => {
        const taken = await documentTakenMs(laterId);
        return Number.isNaN(taken) ? undefined : taken;
      }, 'the second document to be taken')) - laterSentMs;
      // Within tens of ms; 1.9-2.1 s (until the failover ended) when those takes kept the slots.
      expect(laterTakenMs).toBeLessThan(1_000);
      expect(answers.at(-1)).toBe(202);
      after.push(...(await submit(40, 0)));

      // A 503 that could not tell whether its job was stored named it: GET says which.
      for (const id of unknown) {
        const status = (await fetch(`${api.url}/jobs/${encodeURIComponent(id)}`)).status;
        expect([200, 404]).toContain(status);
        if (status === 200) after.push(id);
      }
      const all = [...before, ...after];
      const settled = await waitFor(async () => {
        const states = await records(all);
        return states.every((state) => state.status === 'completed') && states;
      }, 'every job to complete on the new primary', 30_000).catch(async (error: Error) => {
        throw new Error(`${error.message}: ${JSON.stringify(countBy(await records(all), (state) => state.status))}`);
      });
      const completedMs = Date.now() - killedAt;
      const attempts = countBy(settled, (state) => String(state.attempts));
      // A held job's lease (15 s) outlasts the failover: its own worker finishes it.
      expect(attempts).toEqual({ 1: all.length });
      expect(await cluster.nodeOf(new QueueKeys(prefix, 'inference').base, survivor)).toBe(replica);
      expect((await fetch(`${api.url}/readyz`)).status).toBe(200);
      report('cluster primary killed', { jobs: all.length, api_accepting_again_ms: acceptingMs, api_answers: answers.join(','), other_queue_document_taken_ms: takenMs, other_queue_later_document_taken_ms: laterTakenMs, other_queue_document_completed_ms: documentMs, outcome_unknown: unknown.length, all_completed_ms: completedMs, attempts });
    } finally {
      await Promise.all([api?.stop(5_000), ...workers.map((worker) => worker.stop(5_000))]);
      await cluster.stop();
    }
  });
});
