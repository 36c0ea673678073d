import { keysUnder, redisTest as test, takeRequest, TEST_LIMITS, TEST_PIPELINES } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { describe, expect } from 'vitest';
import { completeStage, completeStages, enqueueJobs, ensureGroups, failAttempt, findLostJobs, newJobId, promoteDueJobs, QueueKeys, readJob, reportProgress, retryDeadJob, takeJobs, WALK_START, type Lane, type NewJob } from '../src/index.js';


function job(queue: string, lane: Lane = 'normal', extra: Partial<NewJob> = {}): NewJob {
  return { id: newJobId(queue), lane, payload: JSON.stringify({ model: 'echo', prompt: 'hi' }), ...extra };
}

async function take(redis: Redis, keys: QueueKeys, stage = 'infer', count = 10, consumer = 'c1', previousStage = '') {
  return takeJobs(redis, keys, takeRequest({ stage, previousStage, consumer, count }));
}

describe('the transition scripts', () => {
  test('a batch of plain jobs keeps every job on its own lane with its payload as sent, newlines and empty payloads included', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const lanes: Lane[] = ['high', 'normal', 'low', 'normal'];
    const plain = lanes.map((lane, i) => job('inference', lane, { payload: JSON.stringify({ model: 'echo', prompt: `line ${i}\nstill ${i}`, emoji: '🙂' }) }));
    const empty = job('inference', 'low', { payload: '' });
    // Pretty-printed JSON holds raw newlines: its batch cannot go as one line per job, and still must arrive whole.
    const pretty = job('inference', 'high', { payload: JSON.stringify({ model: 'echo', prompt: 'hi' }, null, 2) });
    for (const batch of [[...plain, empty], [pretty, job('inference')]]) {
      expect(await enqueueJobs(redis, keys, 'infer', batch, TEST_LIMITS)).toEqual({ ok: true, jobs: batch.map(({ id }) => ({ id, created: true })) });
    }
    const { jobs } = await take(redis, keys, 'infer', 20);
    const sent = [...plain, empty, pretty];
    for (const queued of sent) {
      const taken = jobs.find((candidate) => candidate.jobId === queued.id);
      expect(taken, queued.id).toMatchObject({ lane: queued.lane, payload: queued.payload });
    }
    expect(jobs).toHaveLength(sent.length + 1);
    expect(await redis.hlen(keys.queued)).toBe(sent.length + 1);
  });

  test('a plain job costs one stream entry and one index field until its first attempt ends; its record is then written whole', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const queued = job('inference');
    expect(await enqueueJobs(redis, keys, 'infer', [queued], TEST_LIMITS)).toEqual({ ok: true, jobs: [{ id: queued.id, created: true }] });
    expect(await redis.exists(keys.job(queued.id))).toBe(0);
    expect(await redis.xlen(keys.stream('infer', 'normal'))).toBe(1);
    expect(await redis.hget(keys.queued, queued.id)).toMatch(/^normal \d+-\d+$/);
    expect(await readJob(redis, keys, queued.id, 'infer')).toMatchObject({ kind: 'entry', lane: 'normal' });

    const { jobs } = await take(redis, keys);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ jobId: queued.id, attempt: 1, maxAttempts: 3, lane: 'normal' });
    expect(JSON.parse(jobs[0]!.payload)).toEqual({ model: 'echo', prompt: 'hi' });
    // Running: still no record; the active index says since when, where, and keeps a copy of the entry.
    const entryId = jobs[0]!.entryId;
    expect(await redis.hget(keys.queued, queued.id)).toBe(`normal ${entryId}`);
    expect(await redis.exists(keys.job(queued.id))).toBe(0);
    expect(await redis.hget(keys.active, `infer:normal:${entryId}`)).toMatch(new RegExp(`^${queued.id} \\d+ c1 0 ${queued.payload}$`));
    const running = await readJob(redis, keys, queued.id, 'infer');
    expect(running).toMatchObject({ kind: 'entry', lane: 'normal', entryId, running: { worker: 'c1' } });

    expect(await completeStage(redis, keys, jobs[0]!, '{"text":"hi"}', '', 60)).toBe('completed');
    const record = await redis.hgetall(keys.job(queued.id));
    expect(record).toMatchObject({
      id: queued.id, queue: 'inference', stage: 'infer', lane: 'normal', status: 'completed', attempts: '1', worker: 'c1',
      entry: entryId, payload: queued.payload, result: '{"text":"hi"}', created_at: entryId.split('-')[0],
    });
    expect(Number(record['started_at'])).toBe((running as { running: { startedAt: number } }).running.startedAt);
    expect(Number(record['finished_at'])).toBeGreaterThanOrEqual(Number(record['started_at']));
    expect(JSON.parse(record['stages']!)).toMatchObject({ infer: { attempts: 1, worker: 'c1' } });
    expect(await redis.hget(keys.queued, queued.id)).toBeNull();
    expect(await redis.hlen(keys.active)).toBe(0);
  });

  test('progress on a first attempt without a record writes the record that attempt would have had, then the progress; a stale attempt writes nothing', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const queued = job('inference', 'normal', { options: { max_attempts: 5, timeout_ms: 9_000 } });
    await enqueueJobs(redis, keys, 'infer', [queued], TEST_LIMITS);
    const [held] = (await take(redis, keys)).jobs;
    expect(held).toMatchObject({ attempt: 1, maxAttempts: 5, timeoutMs: 9_000 });
    const running = (await readJob(redis, keys, queued.id, 'infer')) as { running: { startedAt: number } };

    expect(await reportProgress(redis, keys, { ...held!, attempt: 2 }, 10, 'not mine')).toBe(false);
    expect(await redis.exists(keys.job(queued.id))).toBe(0);

    expect(await reportProgress(redis, keys, held!, 40, 'halfway')).toBe(true);
    expect(await redis.hgetall(keys.job(queued.id))).toMatchObject({
      id: queued.id, status: 'active', stage: 'infer', lane: 'normal', attempts: '1', worker: 'c1', entry: held!.entryId,
      payload: queued.payload, max_attempts: '5', timeout_ms: '9000', started_at: String(running.running.startedAt),
      progress: '40', progress_message: 'halfway',
    });
    // The record took over from the index lines.
    expect(await redis.hget(keys.queued, queued.id)).toBeNull();
    expect(await redis.hget(keys.active, `infer:normal:${held!.entryId}`)).toBe(queued.id);

    expect(await completeStage(redis, keys, held!, '{"text":"hi"}', '', 60)).toBe('completed');
    const record = await redis.hgetall(keys.job(queued.id));
    expect(record).toMatchObject({ status: 'completed', result: '{"text":"hi"}', attempts: '1', max_attempts: '5' });
    expect(JSON.parse(record['stages']!)).toMatchObject({ infer: { attempts: 1, worker: 'c1', started_at: running.running.startedAt } });
  });

  test('completing the last stage acks the entry, stores the result, and lets the record expire', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    await enqueueJobs(redis, keys, 'infer', [job('inference')], TEST_LIMITS);
    const [held] = (await take(redis, keys)).jobs;
    expect(await completeStage(redis, keys, held!, '{"text":"hi"}', '', 60)).toBe('completed');
    const record = await redis.hgetall(keys.job(held!.jobId));
    expect(record).toMatchObject({ status: 'completed', result: '{"text":"hi"}' });
    expect(Number(record['finished_at'])).toBeGreaterThan(0);
    expect(await redis.ttl(keys.job(held!.jobId))).toBeGreaterThan(50);
    expect((await redis.xpending(keys.stream('infer', 'normal'), 'infer'))[0]).toBe(0);
    expect(await redis.hlen(keys.active)).toBe(0);
  });

  test('a finished stage advances the job to the next stage, whose worker gets the output as input', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'docs');
    const doc = job('docs', 'high', { document: Buffer.from('hello world') });
    await enqueueJobs(redis, keys, 'extract', [doc], TEST_LIMITS);
    const [extracting] = (await take(redis, keys, 'extract')).jobs;
    expect(await completeStage(redis, keys, extracting!, '{"text":"hello world"}', 'summarize', 60)).toBe('advanced');
    expect(await redis.hgetall(keys.job(doc.id))).toMatchObject({ status: 'queued', stage: 'summarize', attempts: '0', 'out:extract': '{"text":"hello world"}' });
    const [summarizing] = (await take(redis, keys, 'summarize', 10, 'c2', 'extract')).jobs;
    expect(summarizing).toMatchObject({ jobId: doc.id, attempt: 1, lane: 'high', input: '{"text":"hello world"}' });
    expect(await redis.hgetBuffer(keys.job(doc.id), 'doc')).toEqual(Buffer.from('hello world'));
  });

  test('a completion or failure from an attempt that is no longer current is refused and changes nothing', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    await enqueueJobs(redis, keys, 'infer', [job('inference')], TEST_LIMITS);
    const [first] = (await take(redis, keys)).jobs;
    const error = { message: 'boom', retryable: true, stage: 'infer', attempt: 1, at: Date.now() };
    expect(await failAttempt(redis, keys, first!, error, 0, 3, 60)).toBe('retrying');
    await promoteDueJobs(redis, keys, 60);
    const [second] = (await take(redis, keys, 'infer', 10, 'c2')).jobs;
    expect(second).toMatchObject({ jobId: first!.jobId, attempt: 2 });

    const before = await redis.hgetall(keys.job(first!.jobId));
    expect(await completeStage(redis, keys, first!, '{"late":true}', '', 60)).toBe('not-current-attempt');
    expect(await failAttempt(redis, keys, first!, error, 0, 3, 60)).toBe('not-current-attempt');
    expect(await redis.hgetall(keys.job(first!.jobId))).toEqual(before);

    expect(await completeStage(redis, keys, second!, '{"text":"hi"}', '', 60)).toBe('completed');
    expect(await completeStage(redis, keys, second!, '{"twice":true}', '', 60)).toBe('not-current-attempt');
    expect(await redis.hget(keys.job(first!.jobId), 'result')).toBe('{"text":"hi"}');
  });

  test("a job whose record another client deletes is dead-lettered RECORD_LOST: a running attempt's completion or failure is refused and leaves no active-index field; a waiting entry is not run without its input", async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const error = { message: 'boom', retryable: true, stage: 'infer', attempt: 1, at: Date.now() };
    // Two jobs on their second attempt (with records), their records deleted while they run.
    const running = [job('inference'), job('inference')];
    await enqueueJobs(redis, keys, 'infer', running, TEST_LIMITS);
    for (const first of (await take(redis, keys)).jobs) expect(await failAttempt(redis, keys, first, error, 0, 3, 60)).toBe('retrying');
    await promoteDueJobs(redis, keys, 60);
    const [completing, failing] = (await take(redis, keys, 'infer', 10, 'c2')).jobs;
    expect([completing!.attempt, failing!.attempt]).toEqual([2, 2]);
    await redis.del(keys.job(completing!.jobId), keys.job(failing!.jobId));
    expect(await completeStage(redis, keys, completing!, '"late"', '', 60)).toBe('no-record');
    expect(await failAttempt(redis, keys, failing!, error, 0, 3, 60)).toBe('no-record');
    // Dead-lettered, as a take meeting their entries would: not gone without a trace.
    for (const { jobId } of [completing!, failing!]) {
      expect(await redis.hmget(keys.job(jobId), 'status', 'attempts')).toEqual(['dead', '0']);
      expect(JSON.parse((await redis.hget(keys.job(jobId), 'error'))!)).toMatchObject({ code: 'RECORD_LOST' });
    }
    expect(await redis.hlen(keys.active)).toBe(0);
    expect((await redis.xpending(keys.stream('infer', 'normal'), 'infer'))[0]).toBe(0);

    // A job queued again for its retry, its record deleted before a worker reads the entry.
    const waiting = job('inference');
    await enqueueJobs(redis, keys, 'infer', [waiting], TEST_LIMITS);
    const [attempt] = (await take(redis, keys)).jobs;
    expect(await failAttempt(redis, keys, attempt!, error, 0, 3, 60)).toBe('retrying');
    await promoteDueJobs(redis, keys, 60);
    await redis.del(keys.job(waiting.id));
    expect(await take(redis, keys, 'infer', 10, 'c3')).toMatchObject({ jobs: [], deadOut: [{ jobId: waiting.id, code: 'RECORD_LOST', stalls: 0 }] });
    const record = await redis.hgetall(keys.job(waiting.id));
    expect(record).toMatchObject({ status: 'dead' });
    expect(JSON.parse(record['error']!)).toMatchObject({ code: 'RECORD_LOST', retryable: false, message: expect.stringMatching(/^The job's record is gone, and its input with it/) });
    // Its retry says why it cannot run again.
    expect(await retryDeadJob(redis, keys, waiting.id)).toEqual({ ok: false, reason: 'input-lost', code: 'RECORD_LOST' });

    // A job waiting out its backoff, its record deleted before it is due: dead-lettered when it
    // comes due (it was dropped from the delayed set without a trace).
    const backingOff = job('inference');
    await enqueueJobs(redis, keys, 'infer', [backingOff], TEST_LIMITS);
    const [failed] = (await take(redis, keys)).jobs;
    expect(await failAttempt(redis, keys, failed!, error, 0, 3, 60)).toBe('retrying');
    await redis.del(keys.job(backingOff.id));
    expect(await promoteDueJobs(redis, keys, 60)).toMatchObject({ moved: 0, recordLost: [backingOff.id] });
    expect(await redis.hmget(keys.job(backingOff.id), 'status', 'stage')).toEqual(['dead', null]);
    expect(await redis.zcard(keys.delayed)).toBe(0);
    expect(await redis.hlen(keys.active)).toBe(0);
    expect((await redis.xpending(keys.stream('infer', 'normal'), 'infer'))[0]).toBe(0);
  });

  test('one call completes many held jobs, each on its own: a stale attempt among them is refused and the others still complete', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    await enqueueJobs(redis, keys, 'infer', [job('inference', 'high'), job('inference'), job('inference'), job('inference', 'low')], TEST_LIMITS);
    const held = (await take(redis, keys)).jobs;
    expect(held.map((one) => one.lane)).toEqual(['high', 'normal', 'normal', 'low']);
    expect(await redis.hlen(keys.active)).toBe(4);
    // The low job was taken over: its attempt is no longer the one this worker holds.
    const stale = { ...held[3]!, attempt: held[3]!.attempt + 1 };
    const { outcomes, taken } = await completeStages(redis, keys, [
      { job: held[0]!, output: '{"n":0}', nextStage: '' },
      { job: held[1]!, output: '{"n":1}', nextStage: '' },
      { job: stale, output: '{"late":true}', nextStage: '' },
      { job: held[2]!, output: '{"n":2}', nextStage: '' },
    ], 60);
    expect(outcomes).toEqual(['completed', 'completed', 'not-current-attempt', 'completed']);
    expect(taken).toEqual({ jobs: [], wait: undefined, deadOut: [] });
    for (const i of [0, 1, 2]) expect(await redis.hgetall(keys.job(held[i]!.jobId))).toMatchObject({ status: 'completed', result: `{"n":${i}}` });
    expect(await readJob(redis, keys, held[3]!.jobId, 'infer')).toMatchObject({ kind: 'entry', running: { worker: 'c1' } });
    // Acked in each lane's stream; only the refused job is still pending and in the active index.
    expect((await redis.xpending(keys.stream('infer', 'high'), 'infer'))[0]).toBe(0);
    expect((await redis.xpending(keys.stream('infer', 'normal'), 'infer'))[0]).toBe(0);
    expect((await redis.xpending(keys.stream('infer', 'low'), 'infer'))[0]).toBe(1);
    expect(Object.values(await redis.hgetall(keys.active)).map((line) => line.split(' ')[0])).toEqual([held[3]!.jobId]);
    const minute = Math.floor(Number((await redis.time())[0]) / 60);
    const counted = await Promise.all([minute - 1, minute].map((m) => redis.hget(keys.stats(m), 'completed:infer')));
    expect(counted.reduce((sum, n) => sum + Number(n ?? 0), 0)).toBe(3);
  });

  test('a completion can take jobs along for the slots it frees: high lane first, in the same call, and says where to wait once the lanes are dry', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const first = [job('inference'), job('inference')];
    await enqueueJobs(redis, keys, 'infer', first, TEST_LIMITS);
    const held = (await take(redis, keys, 'infer', 2)).jobs;
    const later = [job('inference', 'low'), job('inference', 'high'), job('inference')];
    await enqueueJobs(redis, keys, 'infer', later, TEST_LIMITS);

    const finish = (jobs: typeof held) => jobs.map((one) => ({ job: one, output: '{"ok":true}', nextStage: '' }));
    const along = await completeStages(redis, keys, finish(held), 60, takeRequest({ consumer: 'c1', count: 2 }));
    expect(along.outcomes).toEqual(['completed', 'completed']);
    expect(along.taken.jobs.map((one) => [one.jobId, one.lane, one.attempt])).toEqual([[later[1]!.id, 'high', 1], [later[2]!.id, 'normal', 1]]);
    expect(along.taken.wait).toBeUndefined();
    // Taken as by a take: running, held by c1, pending in the stream.
    for (const one of along.taken.jobs) expect(await readJob(redis, keys, one.jobId, 'infer')).toMatchObject({ kind: 'entry', running: { worker: 'c1' } });
    expect((await redis.xpending(keys.stream('infer', 'high'), 'infer'))[0]).toBe(1);

    const last = await completeStages(redis, keys, finish(along.taken.jobs), 60, takeRequest({ consumer: 'c1', count: 2 }));
    expect(last.outcomes).toEqual(['completed', 'completed']);
    expect(last.taken.jobs.map((one) => one.jobId)).toEqual([later[0]!.id]);
    expect(last.taken.wait).toBeInstanceOf(Map);
    for (const one of [...held, ...along.taken.jobs]) expect(await redis.hget(keys.job(one.jobId), 'status')).toBe('completed');
  });

  test('a job without a record that finishes its first stage gets its whole record, queued on the next stage with the output as input', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'docs');
    const plain = job('docs');
    await enqueueJobs(redis, keys, 'extract', [plain], TEST_LIMITS);
    const [extracting] = (await take(redis, keys, 'extract')).jobs;
    expect(await redis.exists(keys.job(plain.id))).toBe(0);
    expect(await completeStage(redis, keys, extracting!, '{"text":"hi"}', 'summarize', 60)).toBe('advanced');
    const record = await redis.hgetall(keys.job(plain.id));
    expect(record).toMatchObject({ id: plain.id, status: 'queued', stage: 'summarize', attempts: '0', payload: plain.payload, 'out:extract': '{"text":"hi"}' });
    expect(JSON.parse(record['stages']!)).toMatchObject({ extract: { attempts: 1, worker: 'c1' } });
    // Its line in the queued index now says where its entry waits, as for any job with a record.
    expect(await redis.hget(keys.queued, plain.id)).toBe(`normal ${record['entry']} summarize`);
    const [summarizing] = (await take(redis, keys, 'summarize', 10, 'c2', 'extract')).jobs;
    expect(summarizing).toMatchObject({ jobId: plain.id, attempt: 1, input: '{"text":"hi"}' });
    expect(await redis.hget(keys.queued, plain.id)).toBeNull();
    expect(await completeStage(redis, keys, summarizing!, '{"summary":"hi"}', '', 60)).toBe('completed');
    expect(await redis.hget(keys.job(plain.id), 'status')).toBe('completed');
  });

  test('one call can advance some jobs to their next stage and finish others', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'docs');
    const docs = [job('docs', 'normal', { document: Buffer.from('one') }), job('docs', 'normal', { document: Buffer.from('two') })];
    await enqueueJobs(redis, keys, 'extract', docs, TEST_LIMITS);
    const extracting = (await take(redis, keys, 'extract')).jobs;
    expect((await completeStages(redis, keys, extracting.map((held, i) => ({ job: held, output: `{"text":"${i}"}`, nextStage: 'summarize' })), 60)).outcomes).toEqual(['advanced', 'advanced']);
    const summarizing = (await take(redis, keys, 'summarize', 10, 'c2', 'extract')).jobs;
    expect(summarizing.map((held) => held.input).sort()).toEqual(['{"text":"0"}', '{"text":"1"}']);
    expect((await completeStages(redis, keys, summarizing.map((held) => ({ job: held, output: '{}', nextStage: '' })), 60)).outcomes).toEqual(['completed', 'completed']);
    for (const doc of docs) expect(JSON.parse((await redis.hget(keys.job(doc.id), 'stages'))!)).toHaveProperty('summarize.finished_at');
  });

  test('a failed attempt with attempts left waits in the delayed set until its backoff has passed', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    await enqueueJobs(redis, keys, 'infer', [job('inference')], TEST_LIMITS);
    const [held] = (await take(redis, keys)).jobs;
    const error = { message: 'model overloaded', retryable: true, stage: 'infer', attempt: 1, at: Date.now() };
    expect(await failAttempt(redis, keys, held!, error, 60_000, 3, 60)).toBe('retrying');
    expect(await redis.hget(keys.job(held!.jobId), 'status')).toBe('retrying');
    expect(await redis.zscore(keys.delayed, held!.jobId)).not.toBeNull();
    const promoted = await promoteDueJobs(redis, keys, 60);
    expect(promoted.moved).toBe(0);
    expect(promoted.nextDueInMs).toBeGreaterThan(50_000);
    expect(promoted.nextDueInMs).toBeLessThanOrEqual(60_000);
    expect((await take(redis, keys)).jobs).toHaveLength(0);

    await redis.zadd(keys.delayed, 0, held!.jobId);
    expect((await promoteDueJobs(redis, keys, 60)).moved).toBe(1);
    expect((await promoteDueJobs(redis, keys, 60)).moved).toBe(0);
    expect(await redis.hget(keys.job(held!.jobId), 'status')).toBe('queued');
    expect((await take(redis, keys)).jobs[0]).toMatchObject({ jobId: held!.jobId, attempt: 2 });
  });

  test('the last failed attempt dead-letters the job with its error history; a non-retryable error does so at once', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const poison = job('inference', 'normal', { options: { max_attempts: 2 } });
    const invalid = job('inference');
    await enqueueJobs(redis, keys, 'infer', [poison, invalid], TEST_LIMITS);
    let held = (await take(redis, keys)).jobs;
    expect(held.map((j) => j.maxAttempts)).toEqual([2, 3]);
    const error = (attempt: number) => ({ message: `failure ${attempt}`, retryable: true, stage: 'infer', attempt, at: Date.now() });
    expect(await failAttempt(redis, keys, held[0]!, error(1), 0, 3, 60)).toBe('retrying');
    expect(await failAttempt(redis, keys, held[1]!, { ...error(1), retryable: false, message: 'bad input' }, undefined, 3, 60)).toBe('dead');
    await promoteDueJobs(redis, keys, 60);
    held = (await take(redis, keys)).jobs;
    expect(await failAttempt(redis, keys, held[0]!, error(2), 0, 3, 60)).toBe('dead');

    const record = await redis.hgetall(keys.job(poison.id));
    expect(record['status']).toBe('dead');
    expect(JSON.parse(record['errors']!).map((e: { message: string }) => e.message)).toEqual(['failure 1', 'failure 2']);
    const dead = await redis.xrange(keys.dead, '-', '+');
    expect(dead.map(([, fields]) => fields[1])).toEqual([invalid.id, poison.id]);
    expect(await redis.ttl(keys.job(poison.id))).toBeGreaterThan(0);
  });

  test('an entry XADDed by another producer with plain fields is a job named <queue>:<entry ID>', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const entryId = (await redis.xadd(keys.stream('infer', 'normal'), '*', 'model', 'echo', 'prompt', 'hi', 'user_id', '12345'))!;
    const jobId = `inference:${entryId}`;
    expect(await readJob(redis, keys, jobId, 'infer')).toMatchObject({ kind: 'entry', lane: 'normal', entryId });
    const [held] = (await take(redis, keys)).jobs;
    expect(held).toMatchObject({ jobId, entryId, lane: 'normal', attempt: 1 });
    expect(JSON.parse(held!.payload)).toEqual({ model: 'echo', prompt: 'hi', user_id: '12345' });
    await completeStage(redis, keys, held!, '{}', '', 60);
    expect(await readJob(redis, keys, jobId, 'infer')).toMatchObject({ kind: 'record', fields: { status: 'completed' } });
    expect(await readJob(redis, keys, `inference:${entryId.replace(/-\d+$/, '-9')}`, 'infer')).toBeUndefined();
  });

  test('an entry XADDed with a backoff holding bytes that are not UTF-8 is taken with its payload whole, the backoff left out', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const opts = Buffer.concat([Buffer.from('{"max_attempts":2,"backoff":{"type":"fixed","delay_ms":1,"x":"'), Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from('"}}')]);
    await redis.xadd(keys.stream('infer', 'normal'), '*', 'job', 'inference:bk1', 'payload', '{"model":"echo","prompt":"x"}', 'opts', opts);
    const [held] = (await take(redis, keys)).jobs;
    expect(held).toMatchObject({ jobId: 'inference:bk1', payload: '{"model":"echo","prompt":"x"}', maxAttempts: 2, backoff: undefined });
  });

  test('an idempotency key returns the first job; reused with another request it is refused and nothing is written', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const first = job('inference', 'normal', { idempotencyKey: 'order-1', fingerprint: 'A' });
    expect(await enqueueJobs(redis, keys, 'infer', [first], TEST_LIMITS)).toEqual({ ok: true, jobs: [{ id: first.id, created: true }] });
    const keysAfterFirst = await keysUnder(redis, prefix);
    const lengthAfterFirst = await redis.xlen(keys.stream('infer', 'normal'));
    const again = job('inference', 'normal', { idempotencyKey: 'order-1', fingerprint: 'A' });
    expect(await enqueueJobs(redis, keys, 'infer', [again], TEST_LIMITS)).toEqual({ ok: true, jobs: [{ id: first.id, created: false }] });
    const other = job('inference', 'normal', { idempotencyKey: 'order-1', fingerprint: 'B' });
    expect(await enqueueJobs(redis, keys, 'infer', [job('inference'), other], TEST_LIMITS)).toEqual({ ok: false, reason: 'idempotency-conflict', index: 1 });
    expect(await keysUnder(redis, prefix)).toEqual(keysAfterFirst);
    expect(await redis.xlen(keys.stream('infer', 'normal'))).toBe(lengthAfterFirst);
    expect(await redis.ttl(keys.idempotency('order-1'))).toBeGreaterThan(0);
  });

  test('a key whose queued job was lost to a client trimming the stream is free again, not an answer naming a job that is gone', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const first = job('inference', 'normal', { idempotencyKey: 'trim-1', fingerprint: 'A' });
    await enqueueJobs(redis, keys, 'infer', [first], TEST_LIMITS);
    await redis.xadd(keys.stream('infer', 'normal'), 'MAXLEN', '1', '*', 'model', 'echo', 'prompt', 'x');
    expect(await readJob(redis, keys, first.id, 'infer')).toMatchObject({ kind: 'record', fields: { status: 'dead' } });

    const again = job('inference', 'normal', { idempotencyKey: 'trim-1', fingerprint: 'A' });
    expect(await enqueueJobs(redis, keys, 'infer', [again], TEST_LIMITS)).toEqual({ ok: true, jobs: [{ id: again.id, created: true }] });
    expect(await readJob(redis, keys, again.id, 'infer')).toMatchObject({ kind: 'entry' });

    // Found lost and dead-lettered (see lost-jobs.test.ts), the first job still leaves the key to the second.
    expect((await findLostJobs(redis, keys, 'infer', WALK_START, 60, 3)).lost).toEqual([first.id]);
    const third = job('inference', 'normal', { idempotencyKey: 'trim-1', fingerprint: 'A' });
    expect(await enqueueJobs(redis, keys, 'infer', [third], TEST_LIMITS)).toEqual({ ok: true, jobs: [{ id: again.id, created: false }] });
  });

  test('over the backlog limit the whole batch is refused and nothing is written', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const bounded = { ...TEST_LIMITS, maxBacklog: 3 };
    expect((await enqueueJobs(redis, keys, 'infer', [job('inference'), job('inference', 'high')], bounded)).ok).toBe(true);
    await take(redis, keys, 'infer', 1);
    expect(await enqueueJobs(redis, keys, 'infer', [job('inference'), job('inference')], bounded)).toEqual({ ok: false, reason: 'backlog-full', backlog: 2, limit: 3 });
    expect(await redis.xlen(keys.stream('infer', 'normal'))).toBe(1);
    expect((await enqueueJobs(redis, keys, 'infer', [job('inference', 'low')], bounded)).ok).toBe(true);
  });

  test('with an undelivered entry deleted (Redis then reports no lag), the backlog counts what waits, not the acknowledged history too', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    // Ten jobs done: their entries stay as history until STREAM_HISTORY passes.
    await enqueueJobs(redis, keys, 'infer', Array.from({ length: 10 }, () => job('inference')), TEST_LIMITS);
    for (const held of (await take(redis, keys, 'infer', 10)).jobs) await completeStage(redis, keys, held, '{}', '', 60);
    const waiting = Array.from({ length: 3 }, () => job('inference'));
    await enqueueJobs(redis, keys, 'infer', waiting, TEST_LIMITS);
    const stream = keys.stream('infer', 'normal');
    const lastEntry = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1))[0]![0];
    await redis.xdel(stream, lastEntry);
    const [group] = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    expect(group![group!.indexOf('lag') + 1]).toBeNull();

    // 2 wait (3 counted: the deleted one until the group reads past it), not 12 (the stream's length).
    const bounded = { ...TEST_LIMITS, maxBacklog: 5 };
    expect((await enqueueJobs(redis, keys, 'infer', [job('inference'), job('inference')], bounded)).ok).toBe(true);
    expect(await enqueueJobs(redis, keys, 'infer', [job('inference')], bounded)).toEqual({ ok: false, reason: 'backlog-full', backlog: 5, limit: 5 });
  });

  test('delayed jobs and jobs waiting out a retry count toward the backlog limit', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    const keys = new QueueKeys(prefix, 'inference');
    const bounded = { ...TEST_LIMITS, maxBacklog: 3 };
    const later = Date.now() + 60_000;
    expect((await enqueueJobs(redis, keys, 'infer', [job('inference', 'normal', { runAt: later }), job('inference', 'low', { runAt: later })], bounded)).ok).toBe(true);
    expect((await enqueueJobs(redis, keys, 'infer', [job('inference')], bounded)).ok).toBe(true);
    expect(await enqueueJobs(redis, keys, 'infer', [job('inference', 'normal', { runAt: later })], bounded)).toEqual({ ok: false, reason: 'backlog-full', backlog: 3, limit: 3 });
    // The queued job fails and waits a minute before its retry: still undone, still counted.
    const [held] = (await take(redis, keys)).jobs;
    const error = { message: 'model busy', retryable: true, stage: 'infer', attempt: 1, at: Date.now() };
    expect(await failAttempt(redis, keys, held!, error, 60_000, 3, 60)).toBe('retrying');
    expect(await enqueueJobs(redis, keys, 'infer', [job('inference')], bounded)).toEqual({ ok: false, reason: 'backlog-full', backlog: 3, limit: 3 });
    expect(await redis.zcard(keys.delayed)).toBe(3);
    expect(await redis.xlen(keys.stream('infer', 'normal'))).toBe(1);
  });

  test('higher lanes are taken first, and entries added before the group existed are not skipped', async ({ redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const low = job('inference', 'low');
    const normal = job('inference', 'normal');
    const high = job('inference', 'high');
    for (const queued of [low, normal, high]) {
      await redis.xadd(keys.stream('infer', queued.lane), '*', 'job', queued.id, 'payload', queued.payload);
    }
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    await ensureGroups(redis, prefix, TEST_PIPELINES);
    expect((await take(redis, keys, 'infer', 2)).jobs.map((j) => j.jobId)).toEqual([high.id, normal.id]);
    const last = await take(redis, keys, 'infer', 2);
    expect(last.jobs.map((j) => j.jobId)).toEqual([low.id]);
    expect(last.wait?.get('low')).toMatch(/^\d+-\d+$/);
  });
});

test('entries XADDed into different lanes and stages in the same millisecond are different jobs: the name says which stream', async ({ redis, prefix }) => {
  await ensureGroups(redis, prefix, TEST_PIPELINES);
  const keys = new QueueKeys(prefix, 'docs');
  const id = `${Date.now() + 5_000}-0`;
  await redis.xadd(keys.stream('extract', 'normal'), id, 'text', 'normal lane');
  await redis.xadd(keys.stream('extract', 'high'), id, 'text', 'high lane');
  await redis.xadd(keys.stream('summarize', 'low'), id, 'text', 'later stage');
  expect(await readJob(redis, keys, `docs:${id}`, 'extract')).toMatchObject({ kind: 'entry', stage: 'extract', lane: 'normal' });
  expect(await readJob(redis, keys, `docs:high:${id}`, 'extract')).toMatchObject({ kind: 'entry', stage: 'extract', lane: 'high' });
  expect(await readJob(redis, keys, `docs:summarize:low:${id}`, 'extract')).toMatchObject({ kind: 'entry', stage: 'summarize', lane: 'low' });
  const first = (await take(redis, keys, 'extract')).jobs;
  expect(first.map((job) => [job.jobId, JSON.parse(job.payload).text, job.attempt])).toEqual([
    [`docs:high:${id}`, 'high lane', 1],
    [`docs:${id}`, 'normal lane', 1],
  ]);
  const later = await takeJobs(redis, keys, takeRequest({ stage: 'summarize', previousStage: 'extract', firstStage: 'extract', count: 5 }));
  expect(later.jobs.map((job) => [job.jobId, JSON.parse(job.payload).text])).toEqual([[`docs:summarize:low:${id}`, 'later stage']]);
});
