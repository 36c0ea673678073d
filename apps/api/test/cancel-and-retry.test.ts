import { completeStage, failAttempt, takeJobs, QueueKeys } from '@conveyor/shared';
import { keysUnder, takeRequest } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import type { App } from '../src/app.js';
import { describe, expect } from 'vitest';
import { form } from './multipart-form.js';
import { testWithApp } from './test-app.js';

const test = testWithApp({ MAX_BACKLOG: '3' });

const request = takeRequest({ consumer: 'w1' });

/** `count` echo jobs submitted, with the prompts `<label>0`, `<label>1`, …: their IDs. */
async function submitEcho(app: App, count: number, label = 'p'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: `${label}${i}` } })).json().job_id);
  return ids;
}

/** Takes every queued job and fails its attempt for good (`message` for each), so each is dead-lettered. */
async function deadLetterQueued(redis: Redis, keys: QueueKeys, message: (jobId: string) => string = () => 'broken'): Promise<void> {
  for (const held of (await takeJobs(redis, keys, request)).jobs) {
    await failAttempt(redis, keys, held, { message: message(held.jobId), retryable: false, stage: 'infer', attempt: 1, at: Date.now() }, undefined, 3, 60);
  }
}

describe('DELETE /jobs/:id', () => {
  test('a queued job is cancelled and never runs; cancelling it again is a 409', async ({ app, redis, prefix }) => {
    const { job_id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).json();
    const cancelled = await app.inject({ method: 'DELETE', url: `/jobs/${job_id}` });
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toEqual({ job_id, status: 'cancelled' });
    expect((await app.inject({ url: `/jobs/${job_id}` })).json()).toMatchObject({ status: 'cancelled', finished_at: expect.any(String) });
    expect((await takeJobs(redis, new QueueKeys(prefix, 'inference'), request)).jobs).toEqual([]);
    const again = await app.inject({ method: 'DELETE', url: `/jobs/${job_id}` });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ type: '/problems/job-finished', job_status: 'cancelled' });
  });

  test('a cancel takes no options: a body field or a query parameter is a 400 and the job is not cancelled', async ({ app }) => {
    const { job_id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).json();
    const withReason = await app.inject({ method: 'DELETE', url: `/jobs/${job_id}`, payload: { reason: 'no longer needed' } });
    expect(withReason.statusCode).toBe(400);
    expect(withReason.json()).toMatchObject({ type: '/problems/invalid-request', detail: 'body: takes no fields (got reason)' });
    const forced = await app.inject({ method: 'DELETE', url: `/jobs/${job_id}?force=1` });
    expect(forced.statusCode).toBe(400);
    expect(forced.json()).toMatchObject({ detail: 'querystring: takes no parameters (got force)' });
    expect((await app.inject({ method: 'DELETE', url: `/jobs/${job_id}?=1` })).json()).toMatchObject({ detail: 'querystring: takes no parameters (got "")' });
    expect((await app.inject({ method: 'DELETE', url: `/jobs/${job_id}`, payload: { '': 1 } })).json()).toMatchObject({ detail: 'body: takes no fields (got "")' });
    expect((await app.inject({ url: `/jobs/${job_id}` })).json()).toMatchObject({ status: 'queued' });
    for (const payload of [undefined, {}, null]) {
      const headers = payload === undefined ? {} : { 'content-type': 'application/json' };
      const body = payload === undefined ? undefined : JSON.stringify(payload);
      const cancelled = await app.inject({ method: 'DELETE', url: `/jobs/${job_id}`, headers, ...(body === undefined ? {} : { payload: body }) });
      expect(cancelled.statusCode, String(body)).toBe(payload === undefined ? 200 : 409);
    }
  });

  test('a completed job cannot be cancelled; an unknown job is a 404', async ({ app, redis, prefix }) => {
    const { job_id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).json();
    const keys = new QueueKeys(prefix, 'inference');
    const [held] = (await takeJobs(redis, keys, request)).jobs;
    await completeStage(redis, keys, held!, '{}', '', 60);
    const refused = await app.inject({ method: 'DELETE', url: `/jobs/${job_id}` });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ type: '/problems/job-finished', detail: expect.stringContaining('is completed') });
    expect((await app.inject({ method: 'DELETE', url: '/jobs/inference:01JDQ8K3V7X9ABCDEFGHJKMNPQ' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url: '/jobs/nosuchqueue:1' })).statusCode).toBe(404);
  });
});

describe('the view of a cancelled job', () => {
  test('a job cancelled while it waited to retry shows no retry time', async ({ app, redis, prefix }) => {
    const { job_id } = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).json();
    const keys = new QueueKeys(prefix, 'inference');
    const [held] = (await takeJobs(redis, keys, request)).jobs;
    await failAttempt(redis, keys, held!, { message: 'flaky', retryable: true, stage: 'infer', attempt: 1, at: Date.now() }, 60_000, 3, 60);
    expect((await app.inject({ url: `/jobs/${job_id}` })).json()).toMatchObject({ status: 'retrying', retry_at: expect.any(String) });
    expect((await app.inject({ method: 'DELETE', url: `/jobs/${job_id}` })).statusCode).toBe(200);
    expect((await app.inject({ url: `/jobs/${job_id}` })).json()).toMatchObject({ status: 'cancelled', retry_at: null, finished_at: expect.any(String) });
  });

  test('a document waiting at a later stage names no worker for it; cancelled there, that stage ended when the job did', async ({ app, redis, prefix }) => {
    const uploaded = await app.inject({ method: 'POST', url: '/documents', ...form([{ name: 'file', filename: 'a.txt', content: 'Text of a.' }]) });
    const { job_id } = uploaded.json();
    const keys = new QueueKeys(prefix, 'documents');
    const [held] = (await takeJobs(redis, keys, takeRequest({ stage: 'extract', consumer: 'w1' }))).jobs;
    expect(await completeStage(redis, keys, held!, '{"text":"x"}', 'analyze', 60)).toBe('advanced');

    const waiting = (await app.inject({ url: `/jobs/${job_id}` })).json();
    expect(waiting).toMatchObject({ status: 'queued', stage: 'analyze', worker: null });
    expect(waiting.stages.slice(0, 2)).toMatchObject([
      { name: 'extract', status: 'completed', worker: 'w1' },
      { name: 'analyze', status: 'queued', attempts: 0, worker: null, started_at: null, finished_at: null },
    ]);

    expect((await app.inject({ method: 'DELETE', url: `/jobs/${job_id}` })).statusCode).toBe(200);
    const cancelled = (await app.inject({ url: `/jobs/${job_id}` })).json();
    expect(cancelled.stages[1]).toMatchObject({ name: 'analyze', status: 'cancelled', worker: null, finished_at: cancelled.finished_at });
    expect(cancelled.finished_at).toEqual(expect.any(String));
    const output = await app.inject({ url: `/jobs/${job_id}/stages/analyze/output` });
    expect(output.json()).toMatchObject({ status: 404, detail: `Stage "analyze" of job "${job_id}" has no output: the job was cancelled. GET /jobs/${job_id} shows where the job is.` });
  });
});

describe('dead letters', () => {
  test('a retried dead job counts toward MAX_BACKLOG as a new one: a bulk retry stops when the queue is full and says so, and retries into a full queue are 503s that write nothing', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const dead = await submitEcho(app, 3, 'd');
    await deadLetterQueued(redis, keys);
    for (let i = 0; i < 2; i++) expect((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).statusCode).toBe(202);

    const some = await app.inject({ method: 'POST', url: '/queues/inference/dead/retry' });
    expect(some.statusCode).toBe(200);
    expect(some.json()).toEqual({ retried: 1, skipped: [], remaining: 2, queue_full: { backlog: 3, limit: 3 } });
    expect((await app.inject({ url: '/queues/inference' })).json()).toMatchObject({ dead: 2, stages: [{ waiting_tasks: 3 }] });

    const before = await keysUnder(redis, prefix);
    const lengthBefore = await redis.xlen(keys.stream('infer', 'normal'));
    const none = await app.inject({ method: 'POST', url: '/queues/inference/dead/retry' });
    expect(none.statusCode).toBe(503);
    expect(none.headers['retry-after']).toBe('5');
    expect(none.json()).toMatchObject({ type: '/problems/queue-full', backlog: 3, limit: 3, detail: expect.stringContaining('no dead job was retried') });
    const one = await app.inject({ method: 'POST', url: `/jobs/${dead[2]}/retry` });
    expect(one.statusCode).toBe(503);
    expect(one.json()).toMatchObject({ type: '/problems/queue-full', detail: expect.stringContaining(`retrying job "${dead[2]}" would pass it`) });
    expect(await keysUnder(redis, prefix)).toEqual(before);
    expect(await redis.xlen(keys.stream('infer', 'normal'))).toBe(lengthBefore);
    expect((await app.inject({ url: `/jobs/${dead[2]}` })).json()).toMatchObject({ status: 'dead' });
  });

  test('the list shows a large input as a preview, and a page stops at about 4 MiB of stored entries with a cursor to the rest (500 dead jobs of 1 MB held Redis 2.3 s); GET /jobs/:id shows an input whole', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const prompt = 'y'.repeat(900_000);
    const ids: string[] = [];
    // Two at a time: the queue holds at most three (MAX_BACKLOG).
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 2; i++) ids.push((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt } })).json().job_id);
      await deadLetterQueued(redis, keys);
    }
    const first = await app.inject({ url: '/queues/inference/dead?limit=500' });
    expect(first.statusCode).toBe(200);
    expect(first.body.length).toBeLessThan(50_000);
    const page = first.json();
    expect(page.jobs.length).toBeGreaterThan(0);
    expect(page.jobs.length).toBeLessThan(10);
    expect(page.jobs[0]).toMatchObject({ job_id: ids[9], input_truncated: true, input: { model: 'echo', prompt: `${'y'.repeat(500)}… (899500 more characters)` } });
    // The cursors lead through all ten, newest first, each once.
    const listed = page.jobs.map((job: { job_id: string }) => job.job_id);
    for (let cursor = page.next_cursor, pages = 1; cursor !== null && pages < 10; pages++) {
      const next = (await app.inject({ url: `/queues/inference/dead?limit=500&cursor=${cursor}` })).json();
      listed.push(...next.jobs.map((job: { job_id: string }) => job.job_id));
      cursor = next.next_cursor;
    }
    expect(listed).toEqual([...ids].reverse());
    expect((await app.inject({ url: `/jobs/${ids[0]}` })).json().input.prompt).toBe(prompt);
  });

  test('a dead job is listed, page by page, and retried with its ID kept, counting as enqueued again; a job that is not dead cannot be retried', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const ids = await submitEcho(app, 3);
    await deadLetterQueued(redis, keys, (jobId) => `broken ${jobId}`);
    const first = (await app.inject({ url: '/queues/inference/dead?limit=2' })).json();
    expect(first.jobs.map((job: { job_id: string }) => job.job_id)).toEqual([ids[2], ids[1]]);
    expect(first.jobs[0]).toMatchObject({ stage: 'infer', attempts: 1, error: { message: `broken ${ids[2]}`, retryable: false }, input: { prompt: 'p2' }, input_truncated: false });
    // Its output is not there, and a retry would fail the same way: it was told a retry runs it again.
    expect((await app.inject({ url: `/jobs/${ids[2]}/stages/infer/output` })).json()).toMatchObject({ status: 404, detail: `Stage "infer" of job "${ids[2]}" has no output: the job is dead, of an error a retry does not mend: submit it again, changed. GET /jobs/${ids[2]} shows where the job is.` });
    // One that ran out of attempts on errors a retry may mend is told to retry.
    await redis.hset(keys.job(ids[1]!), 'error', JSON.stringify({ code: 'MODEL_TIMEOUT', message: 'slow', retryable: true }));
    expect((await app.inject({ url: `/jobs/${ids[1]}/stages/infer/output` })).json().detail).toContain(`the job is dead, and POST /jobs/${ids[1]}/retry runs it again.`);
    const second = (await app.inject({ url: `/queues/inference/dead?limit=2&cursor=${first.next_cursor}` })).json();
    expect(second).toMatchObject({ jobs: [{ job_id: ids[0] }], next_cursor: null });
    // A full last page says so too: it gave a cursor to an empty page.
    expect((await app.inject({ url: '/queues/inference/dead?limit=3' })).json()).toMatchObject({ jobs: [{}, {}, {}], next_cursor: null });

    const retried = await app.inject({ method: 'POST', url: `/jobs/${ids[0]}/retry` });
    expect(retried.statusCode).toBe(202);
    expect(retried.json()).toEqual({ job_id: ids[0], status: 'queued' });
    expect((await app.inject({ url: `/jobs/${ids[0]}` })).json()).toMatchObject({ status: 'queued', attempts: 0, errors: [{ message: `broken ${ids[0]}` }] });
    // The single retry takes no options either, nor the list a parameter it does not read.
    expect((await app.inject({ method: 'POST', url: `/jobs/${ids[1]}/retry`, payload: { limit: 1 } })).json()).toMatchObject({ status: 400, detail: 'body: takes no fields (got limit)' });
    expect((await app.inject({ method: 'POST', url: `/jobs/${ids[1]}/retry?x=1` })).json()).toMatchObject({ status: 400, detail: 'querystring: takes no parameters (got x)' });
    for (const [query, got] of [['Limit=1', 'Limit'], ['limit[]=1', 'limit[]']]) {
      const typo = await app.inject({ url: `/queues/inference/dead?${query}` });
      expect(typo.statusCode, query).toBe(400);
      expect(typo.json().detail, query).toBe(`querystring: takes only limit, cursor (got ${got})`);
    }
    const notDead = await app.inject({ method: 'POST', url: `/jobs/${ids[0]}/retry` });
    expect(notDead.statusCode).toBe(409);
    expect(notDead.json()).toMatchObject({ type: '/problems/job-not-dead', job_status: 'queued' });

    const misplaced = await app.inject({ method: 'POST', url: '/queues/inference/dead/retry', payload: { limit: 1 } });
    expect(misplaced.statusCode).toBe(400);
    expect(misplaced.json()).toMatchObject({ type: '/problems/invalid-request', detail: 'body: takes no fields (got limit): pass them in the query string, e.g. ?limit=100' });
    expect((await app.inject({ url: '/queues/inference/dead' })).json().jobs).toHaveLength(2);
    const all = await app.inject({ method: 'POST', url: '/queues/inference/dead/retry', payload: {} });
    expect(all.json()).toEqual({ retried: 2, skipped: [], remaining: 0 });
    expect((await app.inject({ url: '/queues/inference/dead' })).json()).toEqual({ jobs: [], next_cursor: null });
    // Three submitted, three retried: what the queue took in is what it holds (three queued) plus what it finished (three dead).
    expect((await app.inject({ url: '/queues/inference' })).json().counts.last_hour).toMatchObject({ enqueued: 6, dead: 3, retried: 0 });
    expect((await app.inject({ url: '/metrics' })).body).toContain('conveyor_jobs_enqueued_total{queue="inference"} 6');
    expect((await app.inject({ url: '/queues/nope/dead' })).json()).toMatchObject({ status: 404, type: '/problems/queue-not-found' });
    expect((await app.inject({ url: '/queues/inference/dead?cursor=abc' })).statusCode).toBe(400);
  });

  test('a retry that meets a key another program filled (the minute\'s counts) is a 503 naming it, and the job stays dead, untouched', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const [job_id] = await submitEcho(app, 1);
    await deadLetterQueued(redis, keys);
    const minute = Math.floor(Date.now() / 60_000);
    const counts = [minute, minute + 1].map((m) => `${keys.base}stats:${m}`);
    await redis.del(...counts);
    for (const key of counts) await redis.set(key, 'not ours');
    const lengthBefore = await redis.xlen(keys.stream('infer', 'normal'));

    const refused = await app.inject({ method: 'POST', url: `/jobs/${job_id}/retry` });
    expect(refused.statusCode, refused.body).toBe(503);
    expect(refused.json()).toMatchObject({ type: '/problems/redis-key-conflict', detail: expect.stringContaining('stats:') });
    expect(await redis.xlen(keys.stream('infer', 'normal'))).toBe(lengthBefore);
    expect(await redis.xlen(keys.dead)).toBe(1);
    expect((await app.inject({ url: `/jobs/${job_id}` })).json()).toMatchObject({ status: 'dead', attempts: 1 });

    await redis.del(...counts);
    expect((await app.inject({ method: 'POST', url: `/jobs/${job_id}/retry` })).statusCode).toBe(202);
  });

  test('a job whose record another program overwrote is named in the 503, not a key of another queue that also holds a foreign value', async ({ app, redis, prefix }) => {
    const [job_id] = await submitEcho(app, 1);
    const record = new QueueKeys(prefix, 'inference').job(job_id!);
    const elsewhere = new QueueKeys(prefix, 'document-summary').dead;
    await redis.multi().del(record).set(record, 'not ours').set(elsewhere, 'not ours either').exec();
    for (const request of [{ url: `/jobs/${job_id}` }, { method: 'POST' as const, url: `/jobs/${job_id}/retry` }]) {
      const refused = await app.inject(request);
      expect(refused.statusCode, refused.body).toBe(503);
      expect(refused.json().detail, request.url).toContain(`"${record}" holds a string, where Conveyor keeps a hash`);
      expect(refused.json().detail, request.url).not.toContain(elsewhere);
    }
    await redis.del(record, elsewhere);
  });

  test('a bulk retry that fails partway has counted the jobs it queued again, in the metric as in the queue\'s counts', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const ids = await submitEcho(app, 3);
    await deadLetterQueued(redis, keys);
    // The newest, retried last, has its record replaced by another program's value.
    await redis.del(keys.job(ids[2]!));
    await redis.set(keys.job(ids[2]!), 'not ours');
    const failed = await app.inject({ method: 'POST', url: '/queues/inference/dead/retry' });
    expect(failed.statusCode, failed.body).toBe(503);
    expect((await app.inject({ url: `/jobs/${ids[0]}` })).json()).toMatchObject({ status: 'queued' });
    expect((await app.inject({ url: '/queues/inference' })).json().counts.last_hour).toMatchObject({ enqueued: 5 });
    expect((await app.inject({ url: '/metrics' })).body).toContain('conveyor_jobs_enqueued_total{queue="inference"} 5');
  });

  test('a query parameter the bulk retry does not take is a 400 problem naming it and the ones it takes, and nothing is retried', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    await submitEcho(app, 2);
    await deadLetterQueued(redis, keys);
    const before = await keysUnder(redis, prefix);
    for (const [query, got] of [
      ['Limit=1', 'Limit'],
      ['limit=1&dry_run=true', 'dry_run'],
      ['a=1&b=2&c=3&d=4&e=5&f=6', 'a, b, c, d, e, …'],
    ]) {
      const typo = await app.inject({ method: 'POST', url: `/queues/inference/dead/retry?${query}` });
      expect(typo.statusCode, query).toBe(400);
      expect(typo.json(), query).toMatchObject({ type: '/problems/invalid-request', detail: `querystring: takes only limit (got ${got})`, errors: [{ path: 'querystring' }] });
    }
    expect(await keysUnder(redis, prefix)).toEqual(before);
    expect((await app.inject({ url: '/queues/inference/dead' })).json().jobs).toHaveLength(2);
    expect((await app.inject({ method: 'POST', url: '/queues/inference/dead/retry?limit=1' })).json()).toEqual({ retried: 1, skipped: [], remaining: 1 });
  });

  test('dead letters with entry IDs past 2^53 are listed page by page in their exact order', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    // Another producer's entries. As Numbers, 9007199254740992 and 9007199254740993 (2^53 and 2^53 + 1) are one value.
    for (const id of ['8700000000000000-0', '9007199254740992-5', '9007199254740993-0', '18446744073709551615-18446744073709551615']) {
      await redis.xadd(keys.dead, id, 'job', `inference:dead-${id}`);
    }
    const pages: string[][] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const response = await app.inject({ url: `/queues/inference/dead?limit=1${cursor ? `&cursor=${cursor}` : ''}` });
      expect(response.statusCode, cursor).toBe(200);
      const page = response.json() as { jobs: { job_id: string }[]; next_cursor: string | null };
      pages.push(page.jobs.map((job) => job.job_id.replace('inference:dead-', '')));
      cursor = page.next_cursor;
    }
    // The last page is the last: no empty one after it.
    expect(pages).toEqual([['18446744073709551615-18446744073709551615'], ['9007199254740993-0'], ['9007199254740992-5'], ['8700000000000000-0']]);
  });

  test('a cursor Redis could not take is a 400 problem; 0-0, before every entry, is an empty last page', async ({ app }) => {
    for (const cursor of ['1-18446744073709551616', '99999999999999999999-0', '1-1:high', '1-']) {
      const response = await app.inject({ url: `/queues/inference/dead?cursor=${encodeURIComponent(cursor)}` });
      expect(response.statusCode, cursor).toBe(400);
      expect(response.json(), cursor).toMatchObject({ type: '/problems/invalid-request', detail: 'querystring.cursor: must be the next_cursor of the previous page' });
    }
    for (const cursor of ['0-0', '000-00']) {
      expect((await app.inject({ url: `/queues/inference/dead?cursor=${cursor}` })).json()).toEqual({ jobs: [], next_cursor: null });
    }
    expect((await app.inject({ url: '/queues/inference/dead?cursor=1-18446744073709551615' })).json()).toEqual({ jobs: [], next_cursor: null });
  });
});

describe('admission control', () => {
  test('over MAX_BACKLOG, POST answers 503 with Retry-After and writes nothing', async ({ app, redis, prefix }) => {
    for (let i = 0; i < 3; i++) expect((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).statusCode).toBe(202);
    const before = await keysUnder(redis, prefix);
    const streamLength = await redis.xlen(`${prefix}:{inference}:infer:normal`);
    const refused = await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.json()).toMatchObject({ type: '/problems/queue-full', backlog: 3, limit: 3, detail: expect.stringContaining('Nothing was written') });
    expect(await keysUnder(redis, prefix)).toEqual(before);
    expect(await redis.xlen(`${prefix}:{inference}:infer:normal`)).toBe(streamLength);
    expect(refused.json().detail).not.toContain('paused');
    // Paused, the queue does not drain: "try again later" alone had clients wait for ever.
    await redis.hset(new QueueKeys(prefix, 'inference').paused, '*', Date.now());
    const pausedBefore = await keysUnder(redis, prefix);
    const whilePaused = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).json();
    expect(whilePaused.detail).toMatch(/Nothing was written\. The queue is paused \(every stage\), so it does not drain until it is resumed \(POST \/queues\/inference\/resume\); then try again later\.$/);
    expect(await keysUnder(redis, prefix)).toEqual(pausedBefore);
  });

  test('a batch past MAX_BACKLOG says how much room there is, and one larger than the limit itself, which could never be taken, is a 413 that says to split it; nothing is written', async ({ app, redis, prefix }) => {
    const batch = (size: number, keyed = false) =>
      app.inject({ method: 'POST', url: '/jobs/batch', payload: { jobs: Array.from({ length: size }, (_, i) => ({ model: 'echo', prompt: `job ${i}`, ...(keyed && { idempotency_key: `big-${i}` }) })) } });
    const before = await keysUnder(redis, prefix);
    const tooLarge = await batch(4);
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.headers['retry-after']).toBeUndefined();
    expect(tooLarge.json()).toMatchObject({
      type: '/problems/batch-too-large',
      limit: 3,
      batch_size: 4,
      detail: 'This batch of 4 jobs is more than queue "inference" may hold undone (MAX_BACKLOG, 3), so it could never be taken. Nothing was written; send it in batches of at most 3.',
    });
    // With keys, some of its jobs may be stored already and not count: a 503, with the same advice.
    const keyed = await batch(4, true);
    expect(keyed.statusCode).toBe(503);
    expect(keyed.json()).toMatchObject({ type: '/problems/queue-full', backlog: 0, limit: 3, detail: expect.stringMatching(/Nothing was written; this batch of 4 jobs is more than the limit itself: send it in batches of at most 3\.$/) });
    expect(await keysUnder(redis, prefix)).toEqual(before);
    expect((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).statusCode).toBe(202);
    const noRoom = await batch(3);
    expect(noRoom.json()).toMatchObject({ backlog: 1, limit: 3, detail: expect.stringMatching(/Nothing was written; there is room for 2 more, and this batch has 3 jobs: send fewer at once, or try again later\.$/) });
    expect((await batch(2)).statusCode).toBe(202);
  });

  test("a pipeline's later stages count too: documents that moved on from the first stage still hold their place", async ({ app, redis, prefix }) => {
    const upload = (name: string) => app.inject({ method: 'POST', url: '/documents', ...form([{ name: 'file', filename: name, content: `Text of ${name}.` }]) });
    for (const name of ['a.txt', 'b.txt', 'c.txt']) expect((await upload(name)).statusCode).toBe(202);
    // Extracted, all three wait in the analyze stage, which no worker reads: the first stage is empty.
    const keys = new QueueKeys(prefix, 'documents');
    const { jobs } = await takeJobs(redis, keys, takeRequest({ stage: 'extract', consumer: 'w1' }));
    expect(jobs).toHaveLength(3);
    for (const held of jobs) expect(await completeStage(redis, keys, held, '{"text":"x"}', 'analyze', 60)).toBe('advanced');

    const refused = await upload('d.txt');
    expect(refused.statusCode).toBe(503);
    expect(refused.json()).toMatchObject({
      type: '/problems/queue-full',
      backlog: 3,
      detail: 'Queue "documents" holds 3 undone jobs, waiting or running in its stages (extract, analyze, summarize, embed), delayed or waiting to retry (limit 3). Nothing was written; try again later.',
    });
    // Another queue has its own backlog.
    expect((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).statusCode).toBe(202);
  });

  test('jobs cancelled while queued make room at once, and are not counted as waiting, though no worker has read past them', async ({ app, redis, prefix }) => {
    const ids = await submitEcho(app, 3);
    expect((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).statusCode).toBe(503);
    for (const id of ids.slice(0, 2)) expect((await app.inject({ method: 'DELETE', url: `/jobs/${id}` })).statusCode).toBe(200);

    const stage = (await app.inject({ url: '/queues/inference' })).json().stages[0];
    expect(stage).toMatchObject({ waiting_tasks: 1, lanes: { normal: { waiting_tasks: 1, total_tasks: 3 } } });
    expect((await app.inject({ url: '/metrics' })).body).toMatch(/^conveyor_stage_waiting\{queue="inference",stage="infer"\} 1$/m);
    // Room for two more: the cancelled jobs' entries no longer count toward MAX_BACKLOG.
    for (let i = 0; i < 2; i++) expect((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).statusCode).toBe(202);
    expect((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).statusCode).toBe(503);

    // A worker reads past the cancelled entries: the three live jobs are taken, the count is gone.
    const keys = new QueueKeys(prefix, 'inference');
    expect((await takeJobs(redis, keys, request)).jobs.map((held) => held.jobId)).toEqual([ids[2], expect.any(String), expect.any(String)]);
    expect(await redis.exists(keys.cancelled)).toBe(0);
    expect((await app.inject({ url: '/queues/inference' })).json().stages[0]).toMatchObject({ waiting_tasks: 0, pending_tasks: 3 });
  });

  test('requests arriving together near the limit: as many are stored as fit, the rest get 503', async ({ app, redis, prefix }) => {
    // They share one script call, which the limit refuses whole; each is then tried on its own.
    const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: `p${i}` } })));
    expect(answers.map((answer) => answer.statusCode).sort()).toEqual([202, 202, 202, 503, 503]);
    expect(await redis.xlen(`${prefix}:{inference}:infer:normal`)).toBe(3);
    for (const answer of answers.filter((a) => a.statusCode === 202)) {
      expect((await app.inject({ url: answer.headers['location'] as string })).json().status).toBe('queued');
    }
  });
});
