import { redisTest as test, takeRequest, TEST_LIMITS, TEST_POLICY, testLease, TEST_PIPELINES } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { cancelJob, completeStage, enqueueJobs, ensureGroups, fieldsOf, findLostJobs, newJobId, promoteDueJobs, QueueKeys, readJob, reclaimStale, releaseJobs, renewLeases, retryDeadJob, takeJobs, WALK_START, type NewJob } from '../src/index.js';


function job(extra: Partial<NewJob> = {}): NewJob {
  return { id: newJobId('inference'), lane: 'normal', payload: JSON.stringify({ model: 'echo', prompt: 'hi' }), ...extra };
}

/** The stream entry of a job the API queued, from its line in the queued index. */
async function entryOf(redis: Redis, keys: QueueKeys, jobId: string): Promise<string> {
  const line = await redis.hget(keys.queued, jobId);
  return line!.split(' ')[1]!;
}

/** Walks the queued index page by page, from `from` to the end of the walk, and answers the jobs found lost. */
async function walk(redis: Redis, keys: QueueKeys, firstStage = 'infer', from = WALK_START): Promise<string[]> {
  return (await walkAll(redis, keys, firstStage, from)).lost;
}

/** The same, answering the jobs dead-lettered and those queued again. */
async function walkAll(redis: Redis, keys: QueueKeys, firstStage: string, from = WALK_START): Promise<{ lost: string[]; requeued: string[] }> {
  const lost: string[] = [];
  const requeued: string[] = [];
  let position = from;
  do {
    const page = await findLostJobs(redis, keys, firstStage, position, 60, 3);
    lost.push(...page.lost);
    requeued.push(...page.requeued);
    expect(page.failed).toEqual([]);
    expect(page.outside).toEqual([]);
    position = page;
  } while (position.cursor !== '0' || position.resume !== '');
  return { lost, requeued };
}

describe('jobs lost with a stream entry another client deleted', () => {
  test('a job whose entry was deleted before any worker read it is dead-lettered with ENTRY_LOST and no input; a running first attempt and the jobs still waiting are left alone', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'normal');
    const [running, lost, waiting] = [job(), job({ payload: JSON.stringify({ model: 'echo', prompt: 'lost' }) }), job()];
    await enqueueJobs(redis, keys, 'infer', [running, lost, waiting], TEST_LIMITS);
    const [held] = (await takeJobs(redis, keys, takeRequest({ count: 1 }))).jobs;
    expect(held!.jobId).toBe(running.id);
    const lostEntry = await entryOf(redis, keys, lost.id);
    await redis.xdel(stream, await entryOf(redis, keys, running.id), lostEntry);
    // Before any walk finds it, it reads as the record the walk will give it, and a retry is refused.
    const shown = await readJob(redis, keys, lost.id, 'infer');
    expect(shown).toMatchObject({ kind: 'record', fields: { status: 'dead', stage: 'infer', attempts: '0', entry: lostEntry } });
    expect(JSON.parse((shown as { fields: Record<string, string> }).fields['error']!)).toMatchObject({ code: 'ENTRY_LOST' });
    expect(await retryDeadJob(redis, keys, lost.id)).toEqual({ ok: false, reason: 'input-lost', code: 'ENTRY_LOST' });
    expect(await redis.exists(keys.job(lost.id))).toBe(0);

    expect(await walk(redis, keys)).toEqual([lost.id]);
    const record = await readJob(redis, keys, lost.id, 'infer');
    expect(record).toMatchObject({ kind: 'record', fields: { status: 'dead', stage: 'infer', lane: 'normal', attempts: '0', entry: lostEntry } });
    const fields = (record as { fields: Record<string, string> }).fields;
    expect(fields['payload']).toBeUndefined();
    expect(JSON.parse(fields['error']!)).toMatchObject({ code: 'ENTRY_LOST', retryable: false, attempt: 0 });
    expect(JSON.parse(fields['errors']!)).toHaveLength(1);
    expect(await redis.ttl(keys.job(lost.id))).toBeGreaterThan(0);
    expect(await redis.hexists(keys.queued, lost.id)).toBe(0);
    const dead = (await redis.xrange(keys.dead, '-', '+')).map(([, flat]) => fieldsOf(flat));
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ job: lost.id, stage: 'infer' });
    expect(dead[0]!['payload']).toBeUndefined();
    expect(await retryDeadJob(redis, keys, lost.id)).toEqual({ ok: false, reason: 'input-lost', code: 'ENTRY_LOST' });

    // The running first attempt goes on from its copy of the entry, is shown, and completes.
    expect(await readJob(redis, keys, running.id, 'infer')).toMatchObject({ kind: 'entry', fields: { job: running.id, payload: running.payload }, running: { worker: 'c1' } });
    expect(await completeStage(redis, keys, held!, '{"text":"hi"}', '', 60)).toBe('completed');
    expect(await readJob(redis, keys, running.id, 'infer')).toMatchObject({ kind: 'record', fields: { status: 'completed', payload: running.payload } });
    // The job still waiting is taken as ever.
    expect((await takeJobs(redis, keys, takeRequest({ count: 10 }))).jobs.map(({ jobId }) => jobId)).toEqual([waiting.id]);
    expect(await walk(redis, keys)).toEqual([]);
  });

  test('a walk page by page meets every job of a trimmed stream once, on any lane, and leaves an index line whose job has a record with the record as it is', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const jobs = Array.from({ length: 1_200 }, (_, i) => job({ lane: i % 3 === 0 ? 'high' : 'normal' }));
    await enqueueJobs(redis, keys, 'infer', jobs, TEST_LIMITS);
    // A delayed job has its record from the start; a line naming it is one left behind.
    const delayed = job({ runAt: Date.now() + 60_000 });
    await enqueueJobs(redis, keys, 'infer', [delayed], TEST_LIMITS);
    await redis.hset(keys.queued, delayed.id, 'normal 1-1');
    await redis.xtrim(keys.stream('infer', 'high'), 'MAXLEN', 0);
    await redis.xtrim(keys.stream('infer', 'normal'), 'MAXLEN', 0);

    const lost = await walk(redis, keys);
    expect(lost).toHaveLength(jobs.length);
    expect(new Set(lost)).toEqual(new Set(jobs.map(({ id }) => id)));
    expect(await redis.hlen(keys.queued)).toBe(0);
    expect(await redis.xlen(keys.dead)).toBe(jobs.length);
    expect(await redis.hget(keys.job(delayed.id), 'status')).toBe('delayed');
    expect(await redis.hget(keys.job(jobs[0]!.id), 'lane')).toBe('high');
  });

  test('a job with a record whose waiting entry was deleted is queued again from its record on a new entry, on its first stage or a later one, and runs', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'docs');
    const payload = JSON.stringify({ filename: 'a.txt', content_type: 'text/plain', size: 5 });
    const [first, later] = [job({ payload, document: Buffer.from('hello') }), job({ payload, document: Buffer.from('world'), lane: 'high' })];
    first.id = newJobId('docs');
    later.id = newJobId('docs');
    await enqueueJobs(redis, keys, 'extract', [first, later], TEST_LIMITS);
    expect(await redis.hget(keys.queued, first.id)).toBe(`normal ${await redis.hget(keys.job(first.id), 'entry')} extract`);
    // `later` moves on to its second stage; its line moves with it.
    const [held] = (await takeJobs(redis, keys, takeRequest({ stage: 'extract', lanes: ['high'], count: 1 }))).jobs;
    expect(held!.jobId).toBe(later.id);
    expect(await redis.hexists(keys.queued, later.id)).toBe(0);
    expect(await completeStage(redis, keys, held!, '{"text":"world"}', 'summarize', 60)).toBe('advanced');
    const laterEntry = (await redis.hget(keys.job(later.id), 'entry'))!;
    expect(await redis.hget(keys.queued, later.id)).toBe(`high ${laterEntry} summarize`);

    const firstEntry = (await redis.hget(keys.job(first.id), 'entry'))!;
    const queuedAt = Number(await redis.hget(keys.job(first.id), 'queued_at'));
    await redis.xdel(keys.stream('extract', 'normal'), firstEntry);
    await redis.xtrim(keys.stream('summarize', 'high'), 'MAXLEN', 0);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const found = await walkAll(redis, keys, 'extract');
    expect(found.lost).toEqual([]);
    expect(new Set(found.requeued)).toEqual(new Set([first.id, later.id]));
    expect(await redis.hmget(keys.job(first.id), 'status', 'stage')).toEqual(['queued', 'extract']);
    expect(await redis.hget(keys.job(first.id), 'entry')).not.toBe(firstEntry);
    // Its wait counts from its new entry.
    expect(Number(await redis.hget(keys.job(first.id), 'queued_at'))).toBeGreaterThan(queuedAt);
    expect(await redis.hget(keys.job(later.id), 'entry')).not.toBe(laterEntry);
    expect(await walkAll(redis, keys, 'extract')).toEqual({ lost: [], requeued: [] });

    const [again] = (await takeJobs(redis, keys, takeRequest({ stage: 'extract', count: 10 }))).jobs;
    expect(again).toMatchObject({ jobId: first.id, attempt: 1, payload });
    const [next] = (await takeJobs(redis, keys, takeRequest({ stage: 'summarize', previousStage: 'extract', count: 10 }))).jobs;
    expect(next).toMatchObject({ jobId: later.id, attempt: 1, input: '{"text":"world"}' });
    expect(await redis.hlen(keys.queued)).toBe(0);
  });

  test('a delayed job queued at its time gets a line, kept by a cancel while its entry waits; cancelling a job lost before anyone found it finds it dead', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const delayed = job({ runAt: Date.now() + 20 });
    await enqueueJobs(redis, keys, 'infer', [delayed], TEST_LIMITS);
    expect(await redis.hexists(keys.queued, delayed.id)).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect((await promoteDueJobs(redis, keys, 60)).jobIds).toEqual([delayed.id]);
    expect(await redis.hget(keys.queued, delayed.id)).toMatch(/^normal \d+-\d+ infer$/);
    expect(await cancelJob(redis, keys, delayed.id, 'infer', 60, 'control')).toEqual({ ok: true, previousStatus: 'queued' });
    // Its entry still waits: the record is kept until a worker reads past it, and so is its line.
    expect(await redis.hget(keys.queued, delayed.id)).toMatch(/^normal \d+-\d+ infer$/);
    expect(await redis.ttl(keys.job(delayed.id))).toBe(-1);

    // A job with a record whose entry is gone, cancelled before a worker found it: no worker will
    // read past its entry, so its record expires from now and no cancelled entry is counted as waiting.
    const other = job({ runAt: Date.now() + 20 });
    await enqueueJobs(redis, keys, 'infer', [other], TEST_LIMITS);
    await new Promise((resolve) => setTimeout(resolve, 40));
    await promoteDueJobs(redis, keys, 60);
    await redis.xdel(keys.stream('infer', 'normal'), (await redis.hget(keys.job(other.id), 'entry'))!);
    const waitingBefore = await redis.hget(keys.cancelled, 'infer:normal');
    expect(await cancelJob(redis, keys, other.id, 'infer', 60, 'control')).toEqual({ ok: true, previousStatus: 'queued' });
    expect(await redis.ttl(keys.job(other.id))).toBeGreaterThan(0);
    expect(await redis.hget(keys.cancelled, 'infer:normal')).toBe(waitingBefore);

    const lost = job();
    await enqueueJobs(redis, keys, 'infer', [lost], TEST_LIMITS);
    await redis.xdel(keys.stream('infer', 'normal'), await entryOf(redis, keys, lost.id));
    expect(await cancelJob(redis, keys, lost.id, 'infer', 60, 'control')).toEqual({ ok: false, reason: 'finished', status: 'dead' });
    expect(JSON.parse((await redis.hget(keys.job(lost.id), 'error'))!)).toMatchObject({ code: 'ENTRY_LOST' });
    expect(await redis.hexists(keys.queued, lost.id)).toBe(0);
    expect(await redis.hexists(keys.queued, other.id)).toBe(0);
  });

  test('a job a stopping worker let go of, whose pending entry is then deleted, is queued again once the takeover has dropped that entry, for API jobs and documents alike', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'normal');
    const sent = job();
    await enqueueJobs(redis, keys, 'infer', [sent], TEST_LIMITS);
    const [held] = (await takeJobs(redis, keys, takeRequest({ count: 1 }))).jobs;
    expect(await releaseJobs(redis, keys, 'c1', [held!], 60_000, TEST_POLICY)).toBe(1);
    await redis.xdel(stream, held!.entryId);
    // Still pending: not queued again behind the takeover's back.
    expect(await walkAll(redis, keys, 'infer')).toEqual({ lost: [], requeued: [] });
    // The takeover drops the entry; no attempt ran on it, so none is counted as failed.
    expect((await reclaimStale(redis, keys, takeRequest({ consumer: 'c2' }), 1_000)).lost).toBe(0);
    expect(((await redis.xpending(stream, 'infer')) as unknown[])[0]).toBe(0);
    expect(await walkAll(redis, keys, 'infer')).toEqual({ lost: [], requeued: [sent.id] });
    const [again] = (await takeJobs(redis, keys, takeRequest({ consumer: 'c2', count: 10 }))).jobs;
    expect(again).toMatchObject({ jobId: sent.id, payload: sent.payload });
    expect(await completeStage(redis, keys, again!, '{}', '', 60)).toBe('completed');
    expect(await redis.hlen(keys.queued)).toBe(0);
  });

  test('a first attempt whose stream is deleted whole (pending list and all) is failed and run again once its worker is dead: no takeover could meet it, and it stayed active for good', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const sent = job();
    await enqueueJobs(redis, keys, 'infer', [sent], TEST_LIMITS);
    const [held] = (await takeJobs(redis, keys, takeRequest({ count: 1 }))).jobs;
    await redis.del(keys.stream('infer', 'normal'));
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    // While its worker says it is alive, the worker ends the attempt itself at its next renewal.
    await redis.hset(keys.workers, 'c1', Date.now() + 60_000);
    expect((await reclaimStale(redis, keys, takeRequest({ consumer: 'c2' }), 0)).jobs).toEqual([]);
    expect(await findLostJobs(redis, keys, 'infer', WALK_START, 60, 3)).toMatchObject({ lost: [], requeued: [], failed: [] });
    expect(await redis.hlen(keys.active)).toBe(1);
    expect(await redis.exists(keys.job(sent.id))).toBe(0);
    // Once it is dead, the walk fails the attempt as a takeover would, and the job waits again.
    await redis.hdel(keys.workers, 'c1');
    expect(await findLostJobs(redis, keys, 'infer', WALK_START, 60, 3)).toMatchObject({ lost: [], requeued: [], failed: [sent.id] });
    expect(JSON.parse((await redis.hget(keys.job(sent.id), 'errors'))!)).toEqual([expect.objectContaining({ code: 'ENTRY_DELETED', attempt: 1 })]);
    expect(await redis.hget(keys.job(sent.id), 'status')).toBe('queued');
    expect(await redis.hlen(keys.active)).toBe(0);
    const [again] = (await takeJobs(redis, keys, takeRequest({ consumer: 'c2', count: 10 }))).jobs;
    expect(again).toMatchObject({ jobId: sent.id, attempt: held!.attempt + 1 });
    expect(await completeStage(redis, keys, again!, '{}', '', 60)).toBe('completed');
    expect(await redis.hlen(keys.queued)).toBe(0);
  });

  test('a job cancelled while its entry waited, whose entry is then deleted, has its record expire; its count among cancelled entries stays while the group has not read past it', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'docs');
    const payload = JSON.stringify({ filename: 'a.txt', content_type: 'text/plain', size: 5 });
    const [document, plain] = [job({ id: newJobId('docs'), payload, document: Buffer.from('hello') }), job({ id: newJobId('docs') })];
    await enqueueJobs(redis, keys, 'extract', [document, plain], TEST_LIMITS);
    for (const { id } of [document, plain]) expect(await cancelJob(redis, keys, id, 'extract', 60, 'control')).toMatchObject({ ok: true });
    expect(await redis.hget(keys.cancelled, 'extract:normal')).toBe('2');
    expect(await redis.ttl(keys.job(document.id))).toBe(-1);
    await redis.xtrim(keys.stream('extract', 'normal'), 'MAXLEN', 0);

    expect(await walkAll(redis, keys, 'extract')).toEqual({ lost: [], requeued: [] });
    for (const { id } of [document, plain]) {
      expect(await redis.hget(keys.job(id), 'status')).toBe('cancelled');
      expect(await redis.ttl(keys.job(id))).toBeGreaterThan(0);
    }
    // The deleted entries stay in the group's lag bound (entries added less entries read) until it
    // reads past them, and so do their counts, which GET /queues takes off that bound.
    expect(await redis.hget(keys.cancelled, 'extract:normal')).toBe('2');
    expect(await redis.hlen(keys.queued)).toBe(0);
  });

  test('a job a stopping worker let go of, then cancelled, whose pending entry is then deleted, has its record expire', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const sent = job();
    await enqueueJobs(redis, keys, 'infer', [sent], TEST_LIMITS);
    const [held] = (await takeJobs(redis, keys, takeRequest({ count: 1 }))).jobs;
    await releaseJobs(redis, keys, 'c1', [held!], 60_000, TEST_POLICY);
    expect(await cancelJob(redis, keys, sent.id, 'infer', 60, 'control')).toEqual({ ok: true, previousStatus: 'queued' });
    expect(await redis.ttl(keys.job(sent.id))).toBe(-1);
    await redis.xdel(keys.stream('infer', 'normal'), held!.entryId);
    expect((await reclaimStale(redis, keys, takeRequest({ consumer: 'c2' }), 1_000)).lost).toBe(0);
    expect(await walkAll(redis, keys, 'infer')).toEqual({ lost: [], requeued: [] });
    expect(await redis.hget(keys.job(sent.id), 'status')).toBe('cancelled');
    expect(await redis.ttl(keys.job(sent.id))).toBeGreaterThan(0);
    expect(await redis.hlen(keys.queued)).toBe(0);
  });

  test('a worker reading past the entry of a job cancelled while it waited drops its line with it', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const [cancelled, next] = [job(), job()];
    await enqueueJobs(redis, keys, 'infer', [cancelled, next], TEST_LIMITS);
    await cancelJob(redis, keys, cancelled.id, 'infer', 60, 'control');
    expect(await redis.hget(keys.queued, cancelled.id)).toMatch(/ infer$/);
    expect((await takeJobs(redis, keys, takeRequest({ count: 10 }))).jobs.map(({ jobId }) => jobId)).toEqual([next.id]);
    expect(await redis.hexists(keys.queued, cancelled.id)).toBe(0);
    expect(await redis.ttl(keys.job(cancelled.id))).toBeGreaterThan(0);
  });

  test('a stream made again with lower IDs (deleted whole, then added to by another producer) loses the jobs of the old one, found without reading it', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'normal');
    const sent = job();
    await enqueueJobs(redis, keys, 'infer', [sent], TEST_LIMITS);
    await redis.del(stream);
    await redis.xadd(stream, '1-1', 'model', 'echo', 'prompt', 'from another producer');
    expect(await walk(redis, keys)).toEqual([sent.id]);
  });

  test('a page whose entries must be read, each of them large, is read over several calls that go on where the last stopped', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const large = JSON.stringify({ model: 'echo', prompt: 'x'.repeat(1_000_000) });
    const jobs = Array.from({ length: 20 }, () => job({ payload: large }));
    await enqueueJobs(redis, keys, 'infer', jobs, TEST_LIMITS);
    // An XDEL of the newest entry leaves every older one in reach of it: each must be read.
    await redis.xdel(keys.stream('infer', 'normal'), await entryOf(redis, keys, jobs[19]!.id));
    const first = await findLostJobs(redis, keys, 'infer', WALK_START, 60, 3);
    expect(first.cursor).toBe('0');
    expect(jobs.slice(1, 19).map((each) => each.id)).toContain(first.resume);
    expect(await walk(redis, keys)).toEqual([jobs[19]!.id]);
  });

  test('a call that stops early goes on at the job it stopped at, though it took lines off the page: one walk finds every lost job (a count of lines passed over skipped some)', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const [lost1, lost2] = [job(), job()];
    const large = Array.from({ length: 10 }, () => job({ payload: JSON.stringify({ model: 'echo', prompt: 'x'.repeat(1_000_000) }) }));
    const [lost3, last] = [job(), job()];
    // One at a time, so the index (a listpack, paged whole) holds them in this order.
    for (const each of [lost1, lost2, ...large, lost3, last]) await enqueueJobs(redis, keys, 'infer', [each], TEST_LIMITS);
    const lostJobs = [lost1, lost2, lost3, last];
    await redis.xdel(keys.stream('infer', 'normal'), ...(await Promise.all(lostJobs.map((each) => entryOf(redis, keys, each.id)))));
    // The first call dead-letters lost1 and lost2, then stops among the large entries it must read.
    const first = await findLostJobs(redis, keys, 'infer', WALK_START, 60, 3);
    expect(first.lost).toEqual([lost1.id, lost2.id]);
    expect(large.map((each) => each.id)).toContain(first.resume);
    expect((await walk(redis, keys, 'infer', first)).sort()).toEqual([lost3.id, last.id].sort());
  });
});

/** Walks the whole queued index and answers the jobs found taken outside Conveyor. */
async function walkOutside(redis: Redis, keys: QueueKeys, firstStage = 'infer'): Promise<string[]> {
  const outside: string[] = [];
  let position = WALK_START;
  do {
    const page = await findLostJobs(redis, keys, firstStage, position, 60, 3);
    outside.push(...page.outside);
    expect(page.lost).toEqual([]);
    position = page;
  } while (position.cursor !== '0' || position.resume !== '');
  return outside;
}

/**
 * A consumer written after the Redis Streams examples, run in a Conveyor group: it reads an entry
 * (XREADGROUP >) and acknowledges it. No worker would ever take that job.
 */
describe('jobs taken from a group by a client that is not a Conveyor worker', () => {
  test('a job the API queued whose entry was read and acknowledged outside is dead-lettered with TAKEN_OUTSIDE and its input, and a retry runs it; one read and kept pending outside is left for the takeover', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'normal');
    const [acked, held, waiting] = [job({ options: { max_attempts: 2 } }), job(), job()];
    await enqueueJobs(redis, keys, 'infer', [acked, held, waiting], TEST_LIMITS);
    const read = (await redis.xreadgroup('GROUP', 'infer', 'py-worker', 'COUNT', 2, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
    const [ackedEntry, heldEntry] = read[0]![1].map(([id]) => id);
    await redis.xack(stream, 'infer', ackedEntry!);

    expect(await walkOutside(redis, keys)).toEqual([acked.id]);
    const fields = await redis.hgetall(keys.job(acked.id));
    expect(fields).toMatchObject({ status: 'dead', stage: 'infer', lane: 'normal', attempts: '0', entry: ackedEntry, payload: acked.payload, max_attempts: '2' });
    expect(JSON.parse(fields['error']!)).toMatchObject({ code: 'TAKEN_OUTSIDE', retryable: true, attempt: 0 });
    expect(JSON.parse(fields['error']!).message).toMatch(/not a Conveyor worker .*Retry it to run it here/);
    expect(await redis.hexists(keys.queued, acked.id)).toBe(0);
    expect((await redis.xrange(keys.dead, '-', '+')).map(([, flat]) => fieldsOf(flat))).toMatchObject([{ job: acked.id, payload: acked.payload }]);
    // Found once; the job pending outside and the one still waiting are left as they are.
    expect(await walkOutside(redis, keys)).toEqual([]);
    expect(await redis.hget(keys.queued, held.id)).toBe(`normal ${heldEntry}`);
    expect(await redis.exists(keys.job(held.id), keys.job(waiting.id))).toBe(0);

    expect(await retryDeadJob(redis, keys, acked.id)).toMatchObject({ ok: true });
    const taken = (await takeJobs(redis, keys, takeRequest({ count: 10 }))).jobs;
    expect(taken.map(({ jobId }) => jobId).sort()).toEqual([acked.id, waiting.id].sort());
    expect(taken.find(({ jobId }) => jobId === acked.id)).toMatchObject({ payload: acked.payload });
  });

  test('a job with a record (a document, a later stage) whose waiting entry was acknowledged outside, or that the group was moved past (XGROUP SETID), is dead-lettered with TAKEN_OUTSIDE, and a retry runs it', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'docs');
    const payload = JSON.stringify({ filename: 'a.txt', content_type: 'text/plain', size: 5 });
    const [first, skipped] = [job({ payload, document: Buffer.from('hello') }), job({ payload, document: Buffer.from('world'), lane: 'high' })];
    first.id = newJobId('docs');
    skipped.id = newJobId('docs');
    await enqueueJobs(redis, keys, 'extract', [first, skipped], TEST_LIMITS);
    const firstEntry = (await redis.hget(keys.job(first.id), 'entry'))!;
    await redis.xreadgroup('GROUP', 'extract', 'py-worker', 'COUNT', 1, 'STREAMS', keys.stream('extract', 'normal'), '>');
    await redis.xack(keys.stream('extract', 'normal'), 'extract', firstEntry);
    await redis.xgroup('SETID', keys.stream('extract', 'high'), 'extract', '$');

    expect(new Set(await walkOutside(redis, keys, 'extract'))).toEqual(new Set([first.id, skipped.id]));
    for (const id of [first.id, skipped.id]) {
      expect(await redis.hmget(keys.job(id), 'status', 'stage')).toEqual(['dead', 'extract']);
      expect(JSON.parse((await redis.hget(keys.job(id), 'error'))!)).toMatchObject({ code: 'TAKEN_OUTSIDE', stage: 'extract' });
    }
    expect(await redis.hlen(keys.queued)).toBe(0);
    expect(await retryDeadJob(redis, keys, first.id)).toMatchObject({ ok: true });
    const [again] = (await takeJobs(redis, keys, takeRequest({ stage: 'extract', count: 10 }))).jobs;
    expect(again).toMatchObject({ jobId: first.id, payload });
  });

  test("a running job whose entry another client acknowledges fails with ENTRY_ACKED at its worker's next renewal, and runs again", async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const running = job();
    await enqueueJobs(redis, keys, 'infer', [running], TEST_LIMITS);
    const [held] = (await takeJobs(redis, keys, takeRequest({ count: 1 }))).jobs;
    await redis.xack(keys.stream('infer', 'normal'), 'infer', held!.entryId);
    expect(await renewLeases(redis, keys, 'c1', [held!], TEST_POLICY, testLease())).toEqual([held]);
    const fields = await redis.hgetall(keys.job(running.id));
    expect(fields['status']).toBe('queued');
    expect(JSON.parse(fields['error']!)).toMatchObject({ code: 'ENTRY_ACKED', attempt: 1 });
    expect(JSON.parse(fields['error']!).message).toMatch(/^The stream entry of this attempt was acknowledged \(XACK\)/);
    const [again] = (await takeJobs(redis, keys, takeRequest({ count: 1 }))).jobs;
    expect(again).toMatchObject({ jobId: running.id, attempt: 2 });
  });
});
