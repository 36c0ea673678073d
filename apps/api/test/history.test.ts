import { completeStage, enqueueJobs, findPipeline, newJobId, QueueKeys, takeJobs, type Lane } from '@conveyor/shared';
import { keysUnder, takeRequest } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import type { App } from '../src/app.js';
import { buildTestApp, testWithApp } from './test-app.js';

const token = 'x'.repeat(20);
const admin = { authorization: `Bearer ${token}` };

const test = testWithApp({ ADMIN_TOKEN: token });

function take(redis: Redis, keys: QueueKeys, consumer: string, count: number, lanes: Lane[] = ['high', 'normal', 'low'], stage = 'infer') {
  return takeJobs(redis, keys, takeRequest({ stage, consumer, count, lanes })).then((taken) => taken.jobs);
}

/** Submits through the API, each job in its own millisecond so that entry IDs follow submission order. */
async function submit(app: App, priority: Lane, prompt: string, metadata?: Record<string, unknown>): Promise<string> {
  await sleep(2);
  const response = await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt, priority, ...(metadata ? { metadata } : {}) } });
  expect(response.statusCode).toBe(202);
  return response.json().job_id;
}

type Entry = { entry_id: string; lane: Lane; job_id: string; status: string; fields: Record<string, unknown> };
const history = async (app: App, query: string) => {
  const response = await app.inject({ url: `/queues/inference/history?${query}`, headers: admin });
  expect(response.statusCode).toBe(200);
  return response.json() as { stage: string; entries: Entry[]; next_cursor: string | null };
};

describe('GET /queues/:name/history', () => {
  test('returns the requested range in ID order across lanes, with job IDs and current statuses, page by page', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    // Entries of another producer, with chosen IDs: two lanes hold the same ID.
    const plain = async (lane: Lane, id: string, prompt: string) => redis.xadd(keys.stream('infer', lane), id, 'model', 'echo', 'prompt', prompt);
    await plain('normal', '1700000000000-0', 'p1');
    await plain('low', '1700000000000-0', 'p2');
    await plain('high', '1700000000001-0', 'p3');
    await plain('normal', '1700000000002-5', 'p4');
    const j1 = await submit(app, 'high', 'j1');
    const j2 = await submit(app, 'normal', 'j2');
    const j3 = await submit(app, 'low', 'j3');
    const j4 = await submit(app, 'normal', 'j4');
    const j5 = await submit(app, 'high', 'j5');

    // The high lane's three entries are taken: p3 stays active, j1 completes, j5 completes and its record expires.
    const held = await take(redis, keys, 'w1', 3, ['high']);
    expect(held.map((job) => job.jobId)).toEqual(['inference:high:1700000000001-0', j1, j5]);
    await completeStage(redis, keys, held[1]!, '{}', '', 60);
    await completeStage(redis, keys, held[2]!, '{}', '', 60);
    await redis.del(keys.job(j5));
    await redis.hdel(keys.queued, j3); // queued, yet nothing knows the job: unknown
    expect((await app.inject({ method: 'DELETE', url: `/jobs/${j4}` })).statusCode).toBe(200);

    const all = await history(app, 'limit=500');
    expect(all.stage).toBe('infer');
    expect(all.next_cursor).toBeNull();
    expect(all.entries.map((entry) => [entry.job_id, entry.lane, entry.status])).toEqual([
      ['inference:1700000000000-0', 'normal', 'queued'],
      ['inference:low:1700000000000-0', 'low', 'queued'],
      ['inference:high:1700000000001-0', 'high', 'active'],
      ['inference:1700000000002-5', 'normal', 'queued'],
      [j1, 'high', 'completed'],
      [j2, 'normal', 'queued'],
      [j3, 'low', 'unknown'],
      [j4, 'normal', 'cancelled'],
      [j5, 'high', 'expired'],
    ]);
    expect(all.entries[0]).toMatchObject({ entry_id: '1700000000000-0', added_at: '2023-11-14T22:13:20.000Z', job_stage: 'infer', fields: { model: 'echo', prompt: 'p1' } });
    expect(all.entries[5]).toMatchObject({ job_id: j2, fields: { job: j2, payload: { model: 'echo', prompt: 'j2' } } });

    // Pages of two, then of one across the two entries that share an ID.
    const pages: string[][] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const page = await history(app, `limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      pages.push(page.entries.map((entry) => `${entry.entry_id}/${entry.lane}`));
      cursor = page.next_cursor;
    }
    const ids = all.entries.map((entry) => `${entry.entry_id}/${entry.lane}`);
    expect(pages).toEqual([ids.slice(0, 2), ids.slice(2, 4), ids.slice(4, 6), ids.slice(6, 8), ids.slice(8)]);
    const first = await history(app, 'limit=1');
    expect(first.next_cursor).toBe('1700000000000-0:normal');
    expect((await history(app, `limit=1&cursor=${first.next_cursor}`)).entries.map((entry) => entry.lane)).toEqual(['low']);

    // Ranges, by entry ID or ISO time (a whole millisecond), both ends inclusive.
    const range = (query: string) => history(app, query).then((page) => page.entries.map((entry) => entry.job_id));
    expect(await range('from=1700000000001-0&to=1700000000002-4')).toEqual(['inference:high:1700000000001-0']);
    expect(await range('from=1700000000001-0&to=1700000000002-5')).toEqual(['inference:high:1700000000001-0', 'inference:1700000000002-5']);
    expect(await range(`from=${new Date(1700000000001).toISOString()}&to=${new Date(1700000000002).toISOString()}`)).toEqual([
      'inference:high:1700000000001-0',
      'inference:1700000000002-5',
    ]);
    expect(await range('from=1700000000000&to=1700000000000')).toEqual(['inference:1700000000000-0', 'inference:low:1700000000000-0']);
    const isoOf = (index: number) => new Date(Number(all.entries[index]!.entry_id.split('-')[0])).toISOString();
    expect(await range(`from=${isoOf(5)}&to=${isoOf(7)}`)).toEqual([j2, j3, j4]);
    expect(await range(`from=${isoOf(5)}&limit=2`)).toEqual([j2, j3]);
  });

  test('pages through entry IDs past 2^53, up to the largest Redis takes, in their exact order', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    // Another producer's chosen IDs. As Numbers, 9007199254740992 and 9007199254740993 (2^53 and 2^53 + 1) are one value.
    const plain = async (lane: Lane, id: string, prompt: string) => redis.xadd(keys.stream('infer', lane), id, 'model', 'echo', 'prompt', prompt);
    await plain('normal', '1700000000000-0', 'early');
    await plain('normal', '8700000000000000-0', 'far');
    await plain('high', '9007199254740992-5', 'a');
    await plain('normal', '9007199254740993-0', 'b');
    await plain('low', '18446744073709551615-18446744073709551615', 'last');

    const first = await history(app, 'from=1700000000000-0&limit=2');
    expect(first.next_cursor).toBe('8700000000000000-0:normal');
    const pages = [first.entries.map((entry) => entry.entry_id)];
    for (let cursor = first.next_cursor; cursor !== null; ) {
      const page = await history(app, `from=1700000000000-0&limit=2&cursor=${cursor}`);
      pages.push(page.entries.map((entry) => entry.entry_id));
      cursor = page.next_cursor;
    }
    expect(pages).toEqual([['1700000000000-0', '8700000000000000-0'], ['9007199254740992-5', '9007199254740993-0'], ['18446744073709551615-18446744073709551615']]);

    const range = (query: string) => history(app, query).then((page) => page.entries.map((entry) => entry.entry_id));
    expect(await range('from=8700000000000000-0&to=8700000000000000-0')).toEqual(['8700000000000000-0']);
    expect(await range('from=9007199254740993')).toEqual(['9007199254740993-0', '18446744073709551615-18446744073709551615']);
    expect(await range('to=9007199254740992')).toEqual(['1700000000000-0', '8700000000000000-0', '9007199254740992-5']);
    expect(await range('from=18446744073709551615-18446744073709551615')).toEqual(['18446744073709551615-18446744073709551615']);
    expect((await history(app, 'from=8700000000000000-0&limit=1')).entries[0]).toMatchObject({ job_id: 'inference:8700000000000000-0', added_at: null, status: 'queued', fields: { prompt: 'far' } });
  });

  test('a page of entries with large inputs stops at about 4 MiB read from Redis, and its cursors lead through every entry once, in order', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const prompt = 'w'.repeat(400_000);
    const ids: string[] = [];
    // Interleaved over the three lanes, as another producer's large jobs.
    for (let i = 0; i < 18; i++) ids.push((await redis.xadd(keys.stream('infer', (['high', 'normal', 'low'] as const)[i % 3]!), `${5000 + i}-0`, 'model', 'echo', 'prompt', prompt))!);
    const listed: string[] = [];
    let pages = 0;
    for (let cursor: string | null = '', first = true; first || cursor !== null; first = false) {
      const page = await history(app, `limit=500${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.entries.length).toBeGreaterThan(0);
      listed.push(...page.entries.map((entry) => entry.entry_id));
      cursor = page.next_cursor;
      pages += 1;
    }
    expect(listed).toEqual(ids);
    expect(pages).toBeGreaterThan(1);
  });

  test('an entry ID past 2^64 - 1 is a 400 problem that says so', async ({ app }) => {
    const past = 'is past the largest entry ID: each of its two parts is at most 18446744073709551615 (2^64 - 1)';
    for (const [query, path] of [
      ['from=18446744073709551616', 'querystring.from'],
      ['from=18446744073709551616-0', 'querystring.from'],
      ['to=1-18446744073709551616', 'querystring.to'],
      ['to=100000000000000000000-0', 'querystring.to'],
    ] as const) {
      const response = await app.inject({ url: `/queues/inference/history?${query}`, headers: admin });
      expect(response.statusCode, query).toBe(400);
      expect(response.json(), query).toMatchObject({ type: '/problems/invalid-request', detail: `${path}: ${past}`, errors: [{ path, message: past }] });
    }
    const cursor = await app.inject({ url: '/queues/inference/history?cursor=18446744073709551616-0:normal', headers: admin });
    expect(cursor.json()).toMatchObject({ status: 400, detail: 'querystring.cursor: must be the next_cursor of the previous answer' });
    const replay = await app.inject({ method: 'POST', url: '/queues/inference/replay', headers: admin, payload: { from: '18446744073709551616-0', to: '18446744073709551616-1' } });
    expect(replay.statusCode).toBe(400);
    expect(replay.json()).toMatchObject({ errors: [{ path: 'body.from', message: past }, { path: 'body.to', message: past }] });
  });

  test('reads another stage; refuses an unknown stage, a bad bound, a reversed range, a forged cursor and a parameter it does not read with 400', async ({ app }) => {
    const lastStage = findPipeline('documents')!.stages.at(-1)!;
    const later = await app.inject({ url: `/queues/documents/history?stage=${lastStage}`, headers: admin });
    expect(later.json()).toEqual({ stage: lastStage, entries: [], next_cursor: null });
    const refused = async (query: string, path: string) => {
      const response = await app.inject({ url: `/queues/inference/history?${query}`, headers: admin });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ type: '/problems/invalid-request', errors: [{ path }] });
    };
    await refused('stage=summarize', 'querystring.stage');
    await refused('from=yesterday', 'querystring.from');
    // A date alone and a time without its zone are ISO 8601 too: the problem says what is missing.
    const told = async (query: string) => (await app.inject({ url: `/queues/inference/history?${query}`, headers: admin })).json().errors[0].message as string;
    expect(await told('from=2026-12-07')).toBe('is a date without a time; give a time with its zone, e.g. 2026-12-07T00:00Z');
    expect(await told('to=2026-12-07T17:00')).toBe('has no time zone; end it with Z (UTC) or an offset, e.g. 2026-12-07T17:00Z or 2026-12-07T17:00+01:00');
    expect(await told('from=2026-13-45')).toBe('has no month 13 (months are 01 to 12)');
    expect(await told('from=2026-02-30T10:00Z')).toBe('has no day 30 in 2026-02, which has 28 days');
    expect(await told('from=yesterday')).toBe('must be an entry ID (1700000000000-0) or an ISO 8601 time with its zone (2026-01-31T12:00Z)');
    // What the hints suggest is taken, as run_at takes it: seconds left out, a space for T, an offset.
    for (const time of ['2026-12-07T17:00Z', '2026-12-07T17:00+01:00', '2026-12-07 17:00:00.5z']) {
      const answer = await app.inject({ url: `/queues/inference/history?from=${encodeURIComponent(time)}`, headers: admin });
      expect(answer.statusCode, time).toBe(200);
    }
    await refused('from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', 'querystring.from');
    await refused('cursor=1700000000000-0', 'querystring.cursor');
    await refused('limit=501', 'querystring.limit');
    // A parameter it does not read (a typo) is refused: it gave the default page.
    await refused('Limit=1', 'querystring');
    await refused('limit[]=1', 'querystring');
    expect((await app.inject({ url: '/queues/nope/history', headers: admin })).statusCode).toBe(404);
  });

  test('is an admin endpoint: 401 without the bearer token, absent (404) without ADMIN_TOKEN', async ({ app, redisUrl, prefix }) => {
    const anonymous = await app.inject({ url: '/queues/inference/history' });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json()).toMatchObject({ type: '/problems/unauthorized' });
    expect((await app.inject({ url: '/queues/inference/history', headers: { authorization: 'Bearer wrong-token-of-some-length' } })).statusCode).toBe(401);
    expect((await app.inject({ method: 'POST', url: '/queues/inference/replay', payload: { from: '0', to: '1' } })).statusCode).toBe(401);

    expect((await app.inject({ method: 'DELETE', url: '/queues/inference/history', headers: admin })).statusCode).toBe(405);

    const closed = await buildTestApp(redisUrl, `${prefix}-closed`);
    try {
      expect((await closed.inject({ url: '/queues/inference/history', headers: admin })).json()).toMatchObject({
        status: 404,
        type: '/problems/not-found',
        detail: 'GET /queues/inference/history is an admin endpoint, and admin endpoints are off: this API was started without ADMIN_TOKEN. Set ADMIN_TOKEN (16 characters or more) and restart the API to use them.',
      });
      expect((await closed.inject({ method: 'POST', url: '/queues/inference/replay', headers: admin, payload: { from: '0', to: '1' } })).statusCode).toBe(404);
      // Not a 405 either: without ADMIN_TOKEN the path is no route for any method.
      expect((await closed.inject({ method: 'DELETE', url: '/queues/inference/history', headers: admin })).statusCode).toBe(404);
    } finally {
      await closed.close();
    }
  });
});

describe('POST /queues/:name/replay', () => {
  test('re-runs exactly the requested range as new jobs linked to their originals, queued on the first stage', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const j1 = await submit(app, 'normal', 'one');
    const j2 = await submit(app, 'high', 'two', { user: 'u1', n: 2 });
    await sleep(2);
    const plainEntry = (await redis.xadd(keys.stream('infer', 'low'), '*', 'model', 'echo', 'prompt', 'plain'))!;
    const j3 = await submit(app, 'normal', 'three');
    const j4 = await submit(app, 'normal', 'four');
    for (const held of await take(redis, keys, 'w1', 10)) await completeStage(redis, keys, held, '{}', '', 60);
    await redis.del(keys.job(`inference:low:${plainEntry}`)); // its input is still in its entry
    const entries = (await history(app, '')).entries;
    expect(entries.map((entry) => entry.job_id)).toEqual([j1, j2, `inference:low:${plainEntry}`, j3, j4]);

    const response = await app.inject({ method: 'POST', url: '/queues/inference/replay', headers: admin, payload: { from: entries[1]!.entry_id, to: entries[3]!.entry_id } });
    expect(response.statusCode).toBe(202);
    const { replayed, skipped, next_cursor } = response.json();
    expect(skipped).toEqual([]);
    expect(next_cursor).toBeNull();
    expect(replayed.map((job: { replay_of: string }) => job.replay_of)).toEqual([j2, `inference:low:${plainEntry}`, j3]);
    const fresh = replayed.map((job: { job_id: string }) => job.job_id) as string[];
    expect(new Set([...fresh, j1, j2, j3, j4]).size).toBe(7);

    const input = async (jobId: string) => (await app.inject({ url: `/jobs/${jobId}` })).json().input;
    expect(await input(fresh[0]!)).toEqual({ model: 'echo', prompt: 'two', metadata: { user: 'u1', n: 2, replay_of: j2 } });
    expect(await input(fresh[1]!)).toEqual({ model: 'echo', prompt: 'plain', metadata: { replay_of: `inference:low:${plainEntry}` } });
    expect(await input(fresh[2]!)).toEqual({ model: 'echo', prompt: 'three', metadata: { replay_of: j3 } });
    const taken = await take(redis, keys, 'w2', 10);
    // Each in its original's lane; a worker takes the high lane first.
    expect(taken.map((job) => [job.jobId, job.lane])).toEqual([
      [fresh[0], 'high'],
      [fresh[2], 'normal'],
      [fresh[1], 'low'],
    ]);

    // A chosen lane, and a range given in pages (limit, then cursor).
    const page = await app.inject({ method: 'POST', url: '/queues/inference/replay', headers: admin, payload: { from: entries[0]!.entry_id, to: entries[4]!.entry_id, limit: 3, priority: 'low' } });
    expect(page.json()).toMatchObject({ replayed: [{ replay_of: j1 }, { replay_of: j2 }, { replay_of: `inference:low:${plainEntry}` }], next_cursor: expect.any(String) });
    const rest = await app.inject({
      method: 'POST',
      url: '/queues/inference/replay',
      headers: admin,
      payload: { from: entries[0]!.entry_id, to: entries[4]!.entry_id, limit: 3, priority: 'low', cursor: page.json().next_cursor },
    });
    expect(rest.json()).toMatchObject({ replayed: [{ replay_of: j3 }, { replay_of: j4 }], next_cursor: null });
    expect(await redis.xlen(keys.stream('infer', 'low'))).toBe(1 + 1 + 5);
    // Each replayed job counts as enqueued, as a submitted or retried one does: 4 submitted, 3 + 3 + 2 replayed.
    expect((await app.inject({ url: '/metrics' })).body).toContain('conveyor_jobs_enqueued_total{queue="inference"} 12');
  });

  test("replays an XADDed job whose metadata text holds an object the API takes, adding replay_of; skips one whose metadata the worker keeps as text (a nested value), as it is shown", async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'normal');
    const flat = await redis.xadd(stream, '*', 'model', 'echo', 'metadata', '{"source":"cron"}');
    const nested = await redis.xadd(stream, '*', 'model', 'echo', 'metadata', '{"tags":["a","b"]}');
    expect((await app.inject({ url: `/jobs/inference:${flat}` })).json()).toMatchObject({ input: { metadata: { source: 'cron' } } });
    expect((await app.inject({ url: `/jobs/inference:${nested}` })).json()).toMatchObject({ input: { metadata: '{"tags":["a","b"]}' } });

    const response = await app.inject({ method: 'POST', url: '/queues/inference/replay', headers: admin, payload: { from: flat, to: nested } });
    expect(response.statusCode).toBe(202);
    const { replayed, skipped } = response.json();
    expect(skipped).toEqual([{ job_id: `inference:${nested}`, reason: expect.stringMatching(/metadata is not the JSON of an object of strings, numbers and booleans \(it was kept as text\)/) }]);
    expect(replayed).toEqual([{ job_id: expect.stringMatching(/^inference:/), replay_of: `inference:${flat}` }]);
    expect((await app.inject({ url: `/jobs/${replayed[0].job_id}` })).json()).toMatchObject({ input: { metadata: { source: 'cron', replay_of: `inference:${flat}` } } });
  });

  test('a job dead-lettered RECORD_LOST is refused by retry, bulk retry and replay, each saying its record went with its input (they blamed its stream entry, or an expiry)', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const jobId = newJobId('inference');
    const entry = await redis.xadd(keys.stream('infer', 'normal'), '*', 'job', jobId);
    expect(await take(redis, keys, 'w1', 10)).toEqual([]);
    expect((await app.inject({ url: `/jobs/${jobId}` })).json()).toMatchObject({ status: 'dead', error: { code: 'RECORD_LOST' } });

    const retry = await app.inject({ method: 'POST', url: `/jobs/${jobId}/retry` });
    expect(retry.statusCode).toBe(409);
    expect(retry.json()).toMatchObject({ type: '/problems/job-input-lost', detail: `Job "${jobId}" cannot run again: its record is gone (RECORD_LOST: deleted, or it never existed), and its input with it; submit it again as a new job.` });
    const bulk = (await app.inject({ method: 'POST', url: '/queues/inference/dead/retry' })).json();
    expect(bulk.skipped).toEqual([{ job_id: jobId, reason: 'its input was lost with its record (RECORD_LOST): submit it as a new job' }]);
    const replay = (await app.inject({ method: 'POST', url: '/queues/inference/replay', headers: admin, payload: { from: entry, to: entry } })).json();
    expect(replay.skipped).toEqual([{ job_id: jobId, reason: expect.stringMatching(/^neither its record nor its entry holds its input/) }]);
  });

  test('replays a document with its bytes, and skips one whose record (and document) expired', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'documents');
    const payload = (name: string) => JSON.stringify({ filename: name, content_type: 'text/plain', size: 5, sha256: 'x', metadata: { source: 'test' } });
    const kept = newJobId('documents');
    const expired = newJobId('documents');
    const bytes = Buffer.from([0x00, 0xff, 0x68, 0x69, 0x0a]);
    await enqueueJobs(redis, keys, 'extract', [{ id: kept, lane: 'normal', payload: payload('a.txt'), document: bytes }], { idempotencyTtlSeconds: 60, maxBacklog: 0 });
    await enqueueJobs(redis, keys, 'extract', [{ id: expired, lane: 'normal', payload: payload('b.txt'), document: bytes }], { idempotencyTtlSeconds: 60, maxBacklog: 0 });
    await redis.del(keys.job(expired));

    const response = await app.inject({ method: 'POST', url: '/queues/documents/replay', headers: admin, payload: { from: '0', to: new Date(Date.now() + 60_000).toISOString() } });
    expect(response.statusCode).toBe(202);
    const { replayed, skipped } = response.json();
    expect(skipped).toEqual([{ job_id: expired, reason: expect.stringContaining('expired') }]);
    expect(replayed).toEqual([{ job_id: expect.stringMatching(/^documents:/), replay_of: kept }]);
    const copy = replayed[0].job_id as string;
    expect(await redis.hgetBuffer(keys.job(copy), 'doc')).toEqual(bytes);
    expect((await app.inject({ url: `/jobs/${copy}` })).json()).toMatchObject({ status: 'queued', stage: 'extract', input: { filename: 'a.txt', metadata: { source: 'test', replay_of: kept } } });
    expect((await take(redis, keys, 'w1', 10, ['normal'], 'extract')).map((job) => job.jobId)).toContain(copy);
  });

  test("replays the jobs a later stage saw, from the queue's first stage", async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'documents');
    const original = newJobId('documents');
    const bytes = Buffer.from('some text');
    await enqueueJobs(redis, keys, 'extract', [{ id: original, lane: 'high', payload: '{"filename":"c.txt","content_type":"text/plain","size":9,"sha256":"x"}', document: bytes }], {
      idempotencyTtlSeconds: 60,
      maxBacklog: 0,
    });
    const [, second] = findPipeline('documents')!.stages;
    const [extracting] = await take(redis, keys, 'w1', 1, ['high'], 'extract');
    await completeStage(redis, keys, extracting!, '{"text":"some text"}', second!, 60);

    const body = { from: '0', to: new Date(Date.now() + 60_000).toISOString(), stage: second };
    const { replayed } = (await app.inject({ method: 'POST', url: '/queues/documents/replay', headers: admin, payload: body })).json();
    expect(replayed).toEqual([{ job_id: expect.any(String), replay_of: original }]);
    expect((await app.inject({ url: `/jobs/${replayed[0].job_id}` })).json()).toMatchObject({ stage: 'extract', priority: 'high', input: { filename: 'c.txt', metadata: { replay_of: original } } });
    expect(await redis.hgetBuffer(keys.job(replayed[0].job_id), 'doc')).toEqual(bytes);
  });

  test('replays entry IDs past 2^53 page by page, each entry once', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const plain = async (lane: Lane, id: string, prompt: string) => redis.xadd(keys.stream('infer', lane), id, 'model', 'echo', 'prompt', prompt);
    await plain('normal', '8700000000000000-0', 'far');
    await plain('high', '9007199254740992-5', 'a');
    await plain('normal', '9007199254740993-0', 'b');

    // The new jobs go to the low lane, empty until now: their entries (IDs of now) fall before the range.
    const body = { from: '8700000000000000-0', to: '18446744073709551615-18446744073709551615', limit: 2, priority: 'low' };
    const first = await app.inject({ method: 'POST', url: '/queues/inference/replay', headers: admin, payload: body });
    expect(first.statusCode).toBe(202);
    expect(first.json()).toMatchObject({
      replayed: [{ replay_of: 'inference:8700000000000000-0' }, { replay_of: 'inference:high:9007199254740992-5' }],
      skipped: [],
      next_cursor: '9007199254740992-5:high',
    });
    const rest = await app.inject({ method: 'POST', url: '/queues/inference/replay', headers: admin, payload: { ...body, cursor: first.json().next_cursor } });
    expect(rest.json()).toMatchObject({ replayed: [{ replay_of: 'inference:9007199254740993-0' }], skipped: [], next_cursor: null });
    const copy = rest.json().replayed[0].job_id as string;
    expect((await app.inject({ url: `/jobs/${copy}` })).json()).toMatchObject({ priority: 'low', input: { model: 'echo', prompt: 'b', metadata: { replay_of: 'inference:9007199254740993-0' } } });
    expect(await redis.xlen(keys.stream('infer', 'low'))).toBe(3);
  });

  test('a query parameter or an Idempotency-Key is refused, not ignored (the options go in the body), and nothing is replayed', async ({ app, redis, prefix }) => {
    await submit(app, 'normal', 'one');
    await submit(app, 'normal', 'two');
    const before = await keysUnder(redis, prefix);
    const length = await redis.xlen(new QueueKeys(prefix, 'inference').stream('infer', 'normal'));
    const body = { from: '0', to: new Date(Date.now() + 60_000).toISOString() };
    const refused = await app.inject({ method: 'POST', url: '/queues/inference/replay?limit=1', headers: admin, payload: body });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toMatchObject({
      type: '/problems/invalid-request',
      detail: 'querystring: takes no parameters (got limit): pass them in the JSON body, e.g. {"limit":100}',
      errors: [{ path: 'querystring' }],
    });
    // An Idempotency-Key too: sent again, a replay replays again.
    const keyed = await app.inject({ method: 'POST', url: '/queues/inference/replay', headers: { ...admin, 'idempotency-key': 'replay-1' }, payload: body });
    expect(keyed.statusCode).toBe(400);
    expect(keyed.json()).toMatchObject({ detail: expect.stringMatching(/^POST \/queues\/:name\/replay takes no Idempotency-Key header: each call submits its range again/), errors: [{ path: 'headers.idempotency-key' }] });
    expect(await keysUnder(redis, prefix)).toEqual(before);
    expect(await redis.xlen(new QueueKeys(prefix, 'inference').stream('infer', 'normal'))).toBe(length);
    expect((await app.inject({ method: 'POST', url: '/queues/inference/replay', headers: admin, payload: { ...body, limit: 1 } })).json().replayed).toHaveLength(1);
  });

  test('refuses an invalid body with 400', async ({ app }) => {
    const refused = async (payload: Record<string, unknown>, path: string) => {
      const response = await app.inject({ method: 'POST', url: '/queues/inference/replay', headers: admin, payload });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ type: '/problems/invalid-request', errors: [{ path }] });
    };
    await refused({ from: '0' }, 'body.to');
    await refused({ from: '0', to: '1', limit: 1001 }, 'body.limit');
    await refused({ from: '0', to: '1', stage: 'summarize' }, 'body.stage');
    await refused({ from: '0', to: '1', priority: 'urgent' }, 'body.priority');
  });
});

describe('replay and MAX_BACKLOG', () => {
  const limited = testWithApp({ ADMIN_TOKEN: token, MAX_BACKLOG: '3' });

  limited('a replay that would pass MAX_BACKLOG is a 503 and writes nothing', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    for (const prompt of ['a', 'b']) await submit(app, 'normal', prompt);
    for (const held of await take(redis, keys, 'w1', 10)) await completeStage(redis, keys, held, '{}', '', 60);
    await submit(app, 'normal', 'c'); // undone: the backlog is 1

    const before = await keysUnder(redis, prefix);
    const length = await redis.xlen(keys.stream('infer', 'normal'));
    const body = { from: '0', to: new Date(Date.now() + 60_000).toISOString() };
    const refused = await app.inject({ method: 'POST', url: '/queues/inference/replay', headers: admin, payload: body });
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['retry-after']).toBe('5');
    expect(refused.json()).toMatchObject({ type: '/problems/queue-full', backlog: 1, limit: 3, detail: expect.stringContaining('Nothing was written') });
    expect(await keysUnder(redis, prefix)).toEqual(before);
    expect(await redis.xlen(keys.stream('infer', 'normal'))).toBe(length);

    const fewer = await app.inject({ method: 'POST', url: '/queues/inference/replay', headers: admin, payload: { ...body, limit: 2 } });
    expect(fewer.statusCode).toBe(202);
    expect(fewer.json().replayed).toHaveLength(2);
  });

  limited('a replay of more jobs than MAX_BACKLOG replays that many and gives a next_cursor for the rest (all at once could never be taken)', async ({ app, redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const originals: string[] = [];
    for (const prompt of ['a', 'b', 'c', 'd', 'e']) {
      originals.push(await submit(app, 'normal', prompt));
      for (const held of await take(redis, keys, 'w1', 10)) await completeStage(redis, keys, held, '{}', '', 60);
    }
    const body = { from: '0', to: new Date(Date.now() + 60_000).toISOString() };
    const first = await app.inject({ method: 'POST', url: '/queues/inference/replay', headers: admin, payload: body });
    expect(first.statusCode, first.body).toBe(202);
    expect(first.json().replayed.map((each: { replay_of: string }) => each.replay_of)).toEqual(originals.slice(0, 3));
    expect(first.json().next_cursor).toEqual(expect.any(String));
    for (const held of await take(redis, keys, 'w1', 10)) await completeStage(redis, keys, held, '{}', '', 60);
    const rest = await app.inject({ method: 'POST', url: '/queues/inference/replay', headers: admin, payload: { ...body, cursor: first.json().next_cursor } });
    expect(rest.statusCode, rest.body).toBe(202);
    // The rest of the range: the last two originals, then the first of the replays just made.
    expect(rest.json().replayed.map((each: { replay_of: string }) => each.replay_of)).toEqual([...originals.slice(3), first.json().replayed[0].job_id]);
  });
});
