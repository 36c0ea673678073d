import { QueueKeys } from '@conveyor/shared';
import { keysUnder } from '@conveyor/testing';
import { describe, expect } from 'vitest';
import { form } from './multipart-form.js';
import { buildTestApp, testWithApp } from './test-app.js';

/** The API's side of a partitioned queue (QUEUE_PARTITIONS=inference=3), on one real Redis. */
const test = testWithApp({ QUEUE_PARTITIONS: 'inference=3', ADMIN_TOKEN: 'partitions-admin-token-0123' });

describe('a partitioned queue through the API', () => {
  test('dead letters with the same entry ID in several partitions are each listed once, in order, page by page', async ({ app, redis, prefix }) => {
    // Entry IDs are unique per stream only: three dead streams can hold the same one.
    const streams = ['inference', 'inference.0', 'inference.2'].map((queue) => new QueueKeys(prefix, queue).dead);
    for (const [i, stream] of streams.entries()) {
      await redis.xadd(stream, '1000-0', 'job', `job-${i}-a`, 'stage', 'infer');
      await redis.xadd(stream, '2000-0', 'job', `job-${i}-b`, 'stage', 'infer');
    }
    const whole = (await app.inject({ url: '/queues/inference/dead?limit=50' })).json() as { jobs: { job_id: string }[] };
    expect(whole.jobs.map((job) => job.job_id)).toEqual(['job-2-b', 'job-1-b', 'job-0-b', 'job-2-a', 'job-1-a', 'job-0-a']);
    for (const limit of [1, 2, 4]) {
      const listed: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = (await app.inject({ url: `/queues/inference/dead?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}` })).json() as { jobs: { job_id: string }[]; next_cursor: string | null };
        listed.push(...page.jobs.map((job) => job.job_id));
        cursor = page.next_cursor;
        pages += 1;
      } while (cursor !== null);
      expect(listed, `limit ${limit}`).toEqual(whole.jobs.map((job) => job.job_id));
      // No empty page at the end (with 2 of 6 jobs a page, the third page was full and gave a cursor).
      expect(pages, `limit ${limit}`).toBe(Math.ceil(whole.jobs.length / limit));
    }
    expect((await app.inject({ url: '/queues/inference/dead?cursor=1000-0~x' })).statusCode).toBe(400);
  });

  test('dead letters with large inputs over several partitions: pages stop early at the byte budget, and their cursors still list each once, in order', async ({ app, redis, prefix }) => {
    const streams = ['inference', 'inference.0', 'inference.1', 'inference.2'].map((queue) => new QueueKeys(prefix, queue).dead);
    const payload = JSON.stringify({ model: 'echo', prompt: 'z'.repeat(500_000) });
    for (const [i, stream] of streams.entries()) {
      for (let k = 0; k < 6; k++) await redis.xadd(stream, `${1000 + k * 10 + i}-0`, 'job', `job-${i}-${k}`, 'stage', 'infer', 'payload', payload);
    }
    const expected = Array.from({ length: 24 }, (_, n) => 23 - n).map((n) => `job-${n % 4}-${Math.floor(n / 4)}`);
    const listed: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = (await app.inject({ url: `/queues/inference/dead?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}` })).json() as { jobs: { job_id: string }[]; next_cursor: string | null };
      expect(page.jobs.length).toBeGreaterThan(0);
      listed.push(...page.jobs.map((job) => job.job_id));
      cursor = page.next_cursor;
      pages += 1;
    } while (cursor !== null && pages < 30);
    expect(listed).toEqual(expected);
    expect(pages).toBeGreaterThan(1);
  });

  test('a keyed batch over several partitions, one of them refused, names what was stored; sent again it stores each job once', async ({ app }) => {
    const first = await app.inject({ method: 'POST', url: '/jobs', headers: { 'idempotency-key': 'taken' }, payload: { model: 'echo', prompt: 'first use' } });
    expect(first.statusCode).toBe(202);
    const others = Array.from({ length: 12 }, (_, i) => ({ model: 'echo', prompt: `job ${i}`, idempotency_key: `batch-${i}` }));
    const refused = await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs: [...others, { model: 'echo', prompt: 'another request', idempotency_key: 'taken' }] } });
    expect(refused.statusCode).toBe(422);
    const problem = refused.json() as { type: string; detail: string; stored_job_ids: string[] };
    expect(problem.type).toBe('/problems/idempotency-key-reused');
    expect(problem.detail).toContain('send the same batch again once this is resolved');
    // The jobs whose keys hash to the refused partition were not stored; the others were.
    expect(problem.stored_job_ids.length).toBeGreaterThan(0);
    expect(problem.stored_job_ids.length).toBeLessThan(others.length);

    const again = await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs: [...others, { model: 'echo', prompt: 'another request', idempotency_key: 'fresh' }] } });
    expect(again.statusCode).toBe(202);
    const jobs = (again.json() as { jobs: { job_id: string; created: boolean }[] }).jobs;
    expect(jobs.filter((job) => !job.created).map((job) => job.job_id).sort()).toEqual([...problem.stored_job_ids].sort());
    expect(new Set(jobs.map((job) => job.job_id)).size).toBe(others.length + 1);
  });

  test('a job without a key goes to another partition when the one picked is full (it was a 503 while the others had room); one with a key is told its partition is full', async ({ redisUrl, prefix }) => {
    // MAX_BACKLOG 6 over 3 partitions: 2 undone jobs each.
    const app = await buildTestApp(redisUrl, prefix, { QUEUE_PARTITIONS: 'inference=3', MAX_BACKLOG: '6' });
    try {
      const post = (payload: object, key?: string) => app.inject({ method: 'POST', url: '/jobs', payload, headers: key === undefined ? {} : { 'idempotency-key': key } });
      const partitionOf = (jobId: string) => jobId.slice(0, jobId.indexOf(':'));
      // Keys that hash to partition 0 fill it.
      const toFirst: string[] = [];
      for (let i = 0; toFirst.length < 3; i++) {
        const answer = await post({ model: 'echo' }, `key-${i}`);
        if (answer.statusCode === 202 && partitionOf(answer.json().job_id) === 'inference.0') toFirst.push(`key-${i}`);
        else if (answer.statusCode === 503) {
          expect(answer.json()).toMatchObject({ detail: expect.stringMatching(/^Partition 0 of queue "inference" holds 2 undone jobs, .* \(limit 2, its share of MAX_BACKLOG\)\. Nothing was written/) });
          toFirst.push(`key-${i}`);
        } else await app.inject({ method: 'DELETE', url: `/jobs/${answer.json().job_id}` });
      }
      // The first pick without a key is partition 0, full: the batch goes to partition 1.
      const batch = await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs: [{ model: 'echo' }, { model: 'echo' }] } });
      expect(batch.statusCode).toBe(202);
      expect((batch.json() as { jobs: { job_id: string }[] }).jobs.map((job) => partitionOf(job.job_id))).toEqual(['inference.1', 'inference.1']);
      // Partition 1 (the next pick) is full now: partition 2 takes the next two.
      for (let i = 0; i < 2; i++) {
        const answer = await post({ model: 'echo' });
        expect(answer.statusCode).toBe(202);
        expect(partitionOf(answer.json().job_id)).toBe('inference.2');
      }
      const full = await post({ model: 'echo' });
      expect(full.statusCode).toBe(503);
      expect(full.json()).toMatchObject({
        type: '/problems/queue-full',
        backlog: 6,
        limit: 6,
        detail: expect.stringMatching(/^No partition of queue "inference" has room for this job: each may hold 2 undone jobs, its share of MAX_BACKLOG \(6\), .*; partition \d holds 2, partition \d holds 2, partition \d holds 2\. Nothing was written; try again later\.$/),
      });
      expect(full.headers['retry-after']).toBe('5');
      expect((await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs: [{ model: 'echo' }] } })).statusCode).toBe(503);
      // A batch larger than one partition's share could never be taken, empty partitions or not.
      const tooLarge = await app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs: [{ model: 'echo' }, { model: 'echo' }, { model: 'echo' }] } });
      expect(tooLarge.statusCode).toBe(413);
      expect(tooLarge.json()).toMatchObject({ type: '/problems/batch-too-large', limit: 2, batch_size: 3, detail: expect.stringContaining('send it in batches of at most 2') });
    } finally {
      await app.close();
    }
  });

  test('job IDs of partitions route without a lookup; a partition name that cannot exist is a 404, never a 500', async ({ app }) => {
    const { job_id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'find me' } })).json() as { job_id: string };
    expect(job_id).toMatch(/^inference\.[0-2]:[0-9A-Z]{26}$/);
    expect((await app.inject({ url: `/jobs/${job_id}` })).json()).toMatchObject({ id: job_id, queue: 'inference', partition: Number(job_id[10]), status: 'queued' });
    for (const id of ['inference.9:01JDQ8K3V7X9ABCDEFGHJKMNPQ', 'inference.99:x', 'inference.01:x', 'inference.:x', 'videos.1:x']) {
      const answer = await app.inject({ url: `/jobs/${encodeURIComponent(id)}` });
      expect(answer.statusCode, id).toBe(404);
      expect(answer.json(), id).toMatchObject({ type: '/problems/job-not-found' });
    }
  });

  test('a new job naming a partition of a partitioned queue, configured or not, is a 400 that names the queue to use; one of a queue without partitions, or of another kind, is an unknown queue; nothing is stored (one QUEUE_PARTITIONS does not give waited queued for ever)', async ({ app, redis, prefix }) => {
    const before = await keysUnder(redis, prefix);
    const refusals = [
      ['/jobs', { model: 'echo', prompt: 'hi', queue: 'inference.1' }, 'body.queue', 'inference'],
      ['/jobs', { model: 'echo', prompt: 'hi', queue: 'inference.3' }, 'body.queue', 'inference'],
      ['/jobs', { model: 'echo', prompt: 'hi', queue: 'inference.31', delay_ms: 1000 }, 'body.queue', 'inference'],
      ['/jobs/batch', { jobs: [{ model: 'echo', prompt: 'hi', queue: 'inference.0' }] }, 'body.jobs.0.queue', 'inference'],
    ] as const;
    for (const [url, payload, path, queue] of refusals) {
      const answer = await app.inject({ method: 'POST', url, payload });
      expect(answer.statusCode, JSON.stringify(payload)).toBe(400);
      expect(answer.json()).toMatchObject({ type: '/problems/invalid-request', detail: expect.stringContaining(`send jobs to the queue "${queue}"`), errors: [{ path }] });
    }
    // "documents" has no partitions here, and a partition of "inference" takes no documents: each
    // was told to send jobs to its queue, which the API spreads over its partitions.
    for (const pipeline of ['documents.3', 'documents.0', 'inference.1']) {
      const upload = form([{ name: 'pipeline', content: pipeline }, { name: 'file', filename: 'a.txt', content: 'some text' }]);
      const answer = await app.inject({ method: 'POST', url: '/documents', ...upload });
      expect(answer.statusCode, pipeline).toBe(400);
      expect(answer.json()).toMatchObject({ detail: `There is no pipeline "${pipeline}"; these take documents: documents, document-summary.`, errors: [{ path: 'body.pipeline', message: `unknown pipeline "${pipeline}"` }] });
    }
    expect(await keysUnder(redis, prefix)).toEqual(before);
    // The queue's own name still spreads over its partitions.
    expect((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'hi', queue: 'inference' } })).json()).toMatchObject({ job_id: expect.stringMatching(/^inference\.[0-2]:/) });
  });

  test('/metrics reports each partition as its own queue', async ({ app }) => {
    for (let i = 0; i < 6; i++) expect((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: `m${i}` } })).statusCode).toBe(202);
    const text = (await app.inject({ url: '/metrics' })).body;
    for (const queue of ['inference', 'inference.0', 'inference.1', 'inference.2']) expect(text).toMatch(new RegExp(`conveyor_stage_waiting\\{queue="${queue.replace('.', '\\.')}",stage="infer"\\} ${queue === 'inference' ? 0 : 2}\\b`));
    expect(text).toContain('conveyor_jobs_enqueued_total{queue="inference"} 6');
  });

  test('history of a queue without partitions refuses a partition, by name', async ({ app }) => {
    const answer = await app.inject({ url: '/queues/documents/history?partition=0', headers: { authorization: 'Bearer partitions-admin-token-0123' } });
    expect(answer.statusCode).toBe(400);
    expect(answer.json()).toMatchObject({ detail: 'Queue "documents" is not partitioned (QUEUE_PARTITIONS); leave querystring.partition out.' });
  });

  test('a partition in the query is decimal digits: an empty or blank one, hex or an exponent is a 400 that says so (they were read as 0, 1 and 10)', async ({ app }) => {
    const admin = { authorization: 'Bearer partitions-admin-token-0123' };
    for (const value of ['', '%20', '0x1', '1e1', '-1', '1.0']) {
      const answer = await app.inject({ url: `/queues/inference/history?partition=${value}`, headers: admin });
      expect(answer.statusCode, value).toBe(400);
      expect(answer.json()).toMatchObject({ errors: [{ path: 'querystring.partition', message: 'must be a whole number written in decimal digits, from 0 to 31' }] });
    }
    expect((await app.inject({ url: '/queues/inference/history?partition=2', headers: admin })).statusCode).toBe(200);
    const replay = await app.inject({ method: 'POST', url: '/queues/inference/replay', headers: admin, payload: { from: '0-1', to: '0-1', partition: '1' } });
    expect(replay.statusCode).toBe(400);
    expect(replay.json()).toMatchObject({ errors: [{ path: 'body.partition' }] });
  });
});
