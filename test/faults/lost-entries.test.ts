import { createRedis, QueueKeys } from '@conveyor/shared';
import { deletePrefix, startApi, startWorker, uniquePrefix, waitFor, type ApiProcess, type WorkerProcess } from '@conveyor/testing';
import { expect, inject, test } from 'vitest';
import { apiJobs } from '../e2e/api-jobs.js';
import { enqueueEcho, FAST, report } from './fault-support.js';

/**
 * A producer written after the seeds adds its own entries with `XADD … MAXLEN`, which trims by
 * count and ignores consumer groups: the entries of jobs the API queued go before any worker
 * reads them. Those jobs are not lost without a trace: a worker finds them and dead-letters them
 * with ENTRY_LOST, and their Idempotency-Key is free for the job sent again. A job with a record
 * (an uploaded document) loses nothing: it is queued again from its record, and completes.
 */
test('jobs whose entries a seed-style producer trimmed away before any worker read them end dead with ENTRY_LOST, refuse a retry, and free their idempotency key; a document whose entry was trimmed completes', { timeout: 60_000 }, async () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('lost');
  const producer = createRedis(redisUrl, { role: 'command', name: 'seed-style-producer' });
  const env = { LOG_TRANSITIONS: 'false' };
  let api: ApiProcess | undefined;
  let worker: WorkerProcess | undefined;
  try {
    api = await startApi({ redisUrl, prefix, env });
    const { post, job, settled } = apiJobs(() => api!.url);
    const body = { model: 'echo', prompt: 'to be trimmed' };
    const keyed = { 'content-type': 'application/json', 'idempotency-key': 'lost-1' };
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await post('/jobs', body, i === 0 ? keyed : undefined);
      expect(answer.status).toBe(202);
      ids.push(((await answer.json()) as { job_id: string }).job_id);
    }
    // The seed's producer: keeps the newest 2 entries, and so deletes the API's 5.
    const stream = new QueueKeys(prefix, 'inference').stream('infer', 'normal');
    const direct = [];
    for (let i = 0; i < 2; i++) direct.push(`inference:${await producer.xadd(stream, 'MAXLEN', '2', '*', 'model', 'echo', 'prompt', `seed ${i}`)}`);
    expect(await producer.xlen(stream)).toBe(2);
    // The seed's worker-side trimming, on the documents queue: `XTRIM … MAXLEN`.
    const form = new FormData();
    form.append('file', new Blob(['Redis Streams keep every job until a worker acknowledges it. Trimming by count does not.']), 'notes.txt');
    const uploaded = await fetch(`${api.url}/documents`, { method: 'POST', body: form });
    expect(uploaded.status).toBe(202);
    const { job_id: documentId } = (await uploaded.json()) as { job_id: string };
    expect(await producer.xtrim(new QueueKeys(prefix, 'documents').stream('extract', 'normal'), 'MAXLEN', 0)).toBe(1);
    // With no worker yet, GET already shows a lost job as the dead letter it will be.
    expect(await job(ids[2]!)).toMatchObject({ status: 'dead', input: null, error: { code: 'ENTRY_LOST' } });

    worker = await startWorker({ redisUrl, prefix, env: { ...env, TRIM_INTERVAL: '100ms', MAINTENANCE_INTERVAL: '100ms' } });
    const started = Date.now();
    const lost = await settled(ids, 'dead');
    const foundInMs = Date.now() - started;
    for (const record of lost) {
      expect(record).toMatchObject({ stage: 'infer', attempts: 0, input: null, result: null, error: { code: 'ENTRY_LOST', retryable: false } });
      expect((record['error'] as { message: string }).message).toMatch(/^The job's stream entry was gone before any Conveyor worker took it, and its input with it: another Redis client deleted it/);
    }
    const document = (await settled([documentId]))[0]!;
    expect(document).toMatchObject({ attempts: 1, error: null, result: { summary: expect.stringContaining('Redis Streams') } });
    expect((await settled(direct)).map((record) => record['result'])).toEqual([
      { model: 'echo', text: 'seed 0' },
      { model: 'echo', text: 'seed 1' },
    ]);

    const retry = await fetch(`${api.url}/jobs/${encodeURIComponent(ids[1]!)}/retry`, { method: 'POST' });
    expect(retry.status).toBe(409);
    expect(retry.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await retry.json()).toMatchObject({ type: expect.stringMatching(/job-input-lost$/), status: 409, detail: expect.stringMatching(/submit it again/) });

    const dead = (await (await fetch(`${api.url}/queues/inference/dead`)).json()) as { jobs: { job_id: string; input: unknown; error: { code: string } }[] };
    expect(new Set(dead.jobs.map(({ job_id }) => job_id))).toEqual(new Set(ids));
    expect(dead.jobs.every(({ input, error }) => input === null && error.code === 'ENTRY_LOST')).toBe(true);

    const again = await post('/jobs', body, keyed);
    expect(again.status).toBe(202);
    const { job_id: againId } = (await again.json()) as { job_id: string };
    expect(againId).not.toBe(ids[0]);
    expect((await settled([againId]))[0]!['result']).toEqual({ model: 'echo', text: 'to be trimmed' });
    expect((await job(ids[0]!))['status']).toBe('dead');

    const logged = worker.logs().filter((line) => typeof line['msg'] === 'string' && line['msg'].startsWith('job lost'));
    expect(new Set(logged.map((line) => line['job_id']))).toEqual(new Set(ids));
    expect(worker.logs().filter((line) => typeof line['msg'] === 'string' && line['msg'].startsWith('job queued again')).map((line) => line['job_id'])).toEqual([documentId]);
    report('entries trimmed before delivery', { 'jobs lost': ids.length, 'found and dead-lettered within (ms)': foundInMs, 'seed-style entries completed': direct.length, 'documents queued again and completed': 1 });
  } finally {
    await Promise.all([api?.stop(), worker?.stop()]);
    await deletePrefix(producer, prefix);
    producer.disconnect();
  }
});

/**
 * A worker's housekeeping runs several steps a round: trimming each lane's history, keeping its
 * consumer, pruning those that left, trimming the dead letters, and looking for lost jobs. One
 * step Redis refuses (here the history trim, which this worker's ACL user may not run) skipped
 * every step after it, so lost jobs were never found (STREAM_HISTORY=99999d did this too, before
 * the trim script took a history that long).
 */
test('a housekeeping step Redis refuses skips none of the others: lost jobs are still found and dead-lettered', { timeout: 60_000 }, async () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('lost-refused');
  const admin = createRedis(redisUrl, { role: 'command', name: 'lost-refused-admin' });
  const user = `${prefix}-worker`;
  const env = { LOG_TRANSITIONS: 'false' };
  let api: ApiProcess | undefined;
  let worker: WorkerProcess | undefined;
  try {
    await admin.acl('SETUSER', user, 'on', '>refused-trim-password', '~*', '&*', '+@all', '-xtrim');
    api = await startApi({ redisUrl, prefix, env });
    const { post } = apiJobs(() => api!.url);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(((await (await post('/jobs', { model: 'echo', prompt: `lost ${i}` })).json()) as { job_id: string }).job_id);
    const keys = new QueueKeys(prefix, 'inference');
    expect(await admin.xtrim(keys.stream('infer', 'normal'), 'MAXLEN', 0)).toBe(3);

    const url = new URL(redisUrl);
    url.username = user;
    url.password = 'refused-trim-password';
    worker = await startWorker({ redisUrl: url.toString(), prefix, env: { ...env, TRIM_INTERVAL: '100ms', MAINTENANCE_INTERVAL: '100ms' } });
    await waitFor(async () => (await admin.xlen(keys.dead)) === 3, 'the lost jobs dead-lettered', 15_000);
    // The refusal is still told, at the end of the round.
    const refusal = await waitFor(() => worker!.logs().find((line) => line['msg'] === 'maintenance step failed; trying again shortly'), 'the refused step logged');
    expect(String(refusal['err'])).toMatch(/can't run this command/);
    expect(new Set(worker.logs().filter((line) => String(line['msg']).startsWith('job lost')).map((line) => line['job_id']))).toEqual(new Set(ids));
  } finally {
    await Promise.all([api?.stop(), worker?.stop()]);
    await admin.acl('DELUSER', user).catch(() => {});
    await deletePrefix(admin, prefix);
    admin.disconnect();
  }
});

/**
 * A worker written after the seeds (XREADGROUP GROUP <group> <consumer> … >, then XACK), run in a
 * Conveyor group instead of one of its own, takes a share of the jobs. One it acknowledges is
 * never run by Conveyor: it stayed `queued` until the workers' trimming removed its entry, and was
 * then dead-lettered as ENTRY_LOST with its input gone. The workers now find it while its entry
 * is there, and dead-letter it with TAKEN_OUTSIDE and its input, to be retried; one the foreign
 * consumer keeps pending is taken over once its lease lapses, as before.
 */
test("a job a seed-style consumer in Conveyor's group read and acknowledged is dead-lettered with TAKEN_OUTSIDE and its input, and a retry completes it; one it keeps pending is taken over and completes", { timeout: 60_000 }, async () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('outside');
  const outsider = createRedis(redisUrl, { role: 'command', name: 'seed-style-worker' });
  const env = { LOG_TRANSITIONS: 'false', LEASE_MS: '2s' };
  let api: ApiProcess | undefined;
  let worker: WorkerProcess | undefined;
  try {
    api = await startApi({ redisUrl, prefix, env });
    const { post, job, settled } = apiJobs(() => api!.url);
    const ids: string[] = [];
    for (const prompt of ['acked outside', 'held outside']) ids.push(((await (await post('/jobs', { model: 'echo', prompt })).json()) as { job_id: string }).job_id);
    const stream = new QueueKeys(prefix, 'inference').stream('infer', 'normal');
    const read = (await outsider.xreadgroup('GROUP', 'infer', 'py-worker-1', 'COUNT', 2, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    expect(read[0]![1]).toHaveLength(2);
    await outsider.xack(stream, 'infer', read[0]![1][0]![0]);

    worker = await startWorker({ redisUrl, prefix, env: { ...env, TRIM_INTERVAL: '100ms', MAINTENANCE_INTERVAL: '100ms' } });
    const [acked] = await settled([ids[0]!], 'dead');
    expect(acked).toMatchObject({ attempts: 0, input: { model: 'echo', prompt: 'acked outside' }, error: { code: 'TAKEN_OUTSIDE', retryable: true } });
    expect((acked!['error'] as { message: string }).message).toMatch(/not a Conveyor worker/);
    const logged = await waitFor(() => worker!.logs().find((line) => line['job_id'] === ids[0] && line['level'] === 50), 'the worker to log the job taken outside');
    expect(String(logged['msg'])).toMatch(/^job taken outside Conveyor: .*dead-lettered \(TAKEN_OUTSIDE\), retry it to run it$/);
    expect((await settled([ids[1]!]))[0]).toMatchObject({ status: 'completed', result: { model: 'echo', text: 'held outside' } });

    expect((await fetch(`${api.url}/jobs/${encodeURIComponent(ids[0]!)}/retry`, { method: 'POST' })).status).toBe(202);
    expect((await settled([ids[0]!]))[0]).toMatchObject({ status: 'completed', result: { model: 'echo', text: 'acked outside' } });
    expect((await job(ids[0]!))['error']).toBeNull();
    report('jobs taken outside Conveyor', { 'acknowledged outside, dead-lettered, retried and completed': 1, 'held outside, taken over and completed': 1 });
  } finally {
    await Promise.all([api?.stop(), worker?.stop()]);
    await deletePrefix(outsider, prefix);
    outsider.disconnect();
  }
});

/**
 * A delayed job whose record another Redis client deletes is dead-lettered RECORD_LOST when it
 * comes due. Its stage went with its record, so it reads as in its queue's first stage, and the
 * worker that promoted it logs it and counts it under that stage, not under an empty one.
 */
test('a delayed job whose record was deleted is dead-lettered RECORD_LOST when due, logged and counted under its queue\'s first stage', { timeout: 60_000 }, async () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('lost-delayed');
  const admin = createRedis(redisUrl, { role: 'command', name: 'lost-delayed-admin' });
  let worker: WorkerProcess | undefined;
  try {
    const keys = new QueueKeys(prefix, 'inference');
    const [id] = await enqueueEcho(admin, prefix, 1, 0, 0, { runAt: Date.now() + 1_000 });
    expect(await admin.hget(keys.job(id!), 'status')).toBe('delayed');
    expect(await admin.del(keys.job(id!))).toBe(1);
    worker = await startWorker({ redisUrl, prefix, env: { ...FAST, LOG_TRANSITIONS: 'false' } });
    await waitFor(async () => (await admin.hget(keys.job(id!), 'status')) === 'dead', 'the job dead-lettered when due', 15_000);
    // No stage is stored: GET /jobs shows the queue's first, as for a job not yet taken.
    expect(await admin.hmget(keys.job(id!), 'stage', 'error')).toEqual([null, expect.stringContaining('RECORD_LOST')]);
    const line = await waitFor(() => worker!.logs().find((entry) => entry['job_id'] === id && entry['code'] === 'RECORD_LOST'), 'the worker to log the dead letter');
    expect(line).toMatchObject({ level: 50, stage: 'infer' });
    const metrics = await (await fetch(`http://127.0.0.1:${worker.healthPort}/metrics`)).text();
    expect(metrics).toMatch(/^conveyor_jobs_dead_total\{queue="inference",stage="infer"\} 1$/m);
    expect(metrics).not.toMatch(/^conveyor_jobs_dead_total\{queue="inference",stage=""\}/m);
  } finally {
    await worker?.stop();
    await deletePrefix(admin, prefix);
    admin.disconnect();
  }
});
