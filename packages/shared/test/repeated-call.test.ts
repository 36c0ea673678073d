import { RedisServer, TcpProxy, takeRequest, TEST_LIMITS, uniquePrefix } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  completeStages,
  createRedis,
  enqueueJobs,
  ensureGroups,
  failAttempt,
  newJobId,
  promoteDueJobs,
  QueueKeys,
  reclaimStale,
  recoverOwn,
  releaseJobs,
  scripts,
  takeJobs,
  type Pipeline,
  type RedisClient,
} from '../src/index.js';

const pipelines: Pipeline[] = [{ name: 'inference', input: 'json', stages: ['infer'] }];

/**
 * A worker's connection lost while a call's reply was on its way: Redis ran the call, the reply
 * never came, and the client (silence timeout, then a new connection) sent the call again. The
 * second run must reply what the first did, not do it again: a take run twice had left the first
 * run's jobs started and held by nobody until their lease lapsed.
 */
describe.skipIf(!RedisServer.available())('a call whose reply is lost with its connection, sent again on the next', () => {
  let server: RedisServer;
  let direct: Redis;

  beforeAll(async () => {
    server = await RedisServer.start();
    direct = createRedis(server.url, { role: 'command', name: 'conveyor:test:direct' });
  });
  afterAll(async () => {
    direct.disconnect();
    await server.stop();
  });
  /** What the test's setUp opened: closed after each test, whatever its outcome. */
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  /** What the call of a script carries: its SHA (EVALSHA), or the start of its text (EVAL, a connection's first call of it). */
  function markersOf(name: string): string[] {
    const lua = scripts.find((script) => script.name === name)!.lua;
    return [createHash('sha1').update(lua).digest('hex'), lua.slice(0, 200)];
  }

  /** A queue with `count` jobs, and a worker's connection to it through a proxy that loses the next `script` call's reply. */
  async function setUp(count: number, script: string) {
    const prefix = uniquePrefix('repeat');
    const keys = new QueueKeys(prefix, 'inference');
    await ensureGroups(direct, prefix, pipelines);
    const ids = Array.from({ length: count }, () => newJobId('inference'));
    await enqueueJobs(direct, keys, 'infer', ids.map((id, i) => ({ id, lane: 'normal', payload: `{"prompt":"job ${i}"}` })), TEST_LIMITS);
    const proxy = await TcpProxy.start(server.port);
    const worker: RedisClient = createRedis(proxy.url, { role: 'command', name: 'conveyor:test:worker', silenceTimeoutMs: 300 });
    await worker.ping();
    const lost = proxy.silenceAfter(...markersOf(script));
    close = async () => {
      worker.disconnect();
      await proxy.stop();
    };
    return { keys, ids, worker, lost };
  }

  async function pendingOf(keys: QueueKeys, consumer: string): Promise<string[]> {
    const entries = (await direct.xpending(keys.stream('infer', 'normal'), 'infer', '-', '+', 100, consumer)) as [string][];
    return entries.map(([entryId]) => entryId);
  }

  test('a take replies the jobs its first run took, and takes no more; what it took is kept for the lease and a minute', async () => {
    const { keys, ids, worker, lost } = await setUp(5, 'take');
    // The call is sent again 300 ms on (the silence timeout), well past this lease: a Redis that
    // froze just after running a call answers it again only once it thaws, however long after.
    const taken = await takeJobs(worker, keys, takeRequest({ count: 2, leaseMs: 50 }));
    await lost;
    expect(taken.repeated).toBe(true);
    expect(taken.jobs.map((job) => [job.jobId, job.attempt, job.payload])).toEqual([
      [ids[0], 1, '{"prompt":"job 0"}'],
      [ids[1], 1, '{"prompt":"job 1"}'],
    ]);
    expect(await pendingOf(keys, 'c1')).toEqual(taken.jobs.map((job) => job.entryId));
    const kept = await direct.keys(`${keys.base}call:*`);
    expect(kept).toHaveLength(1);
    const ttl = await direct.pttl(kept[0]!);
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_050);
    // The other three are there for the next taker.
    expect((await takeJobs(direct, keys, takeRequest({ consumer: 'c2' }))).jobs.map((job) => job.jobId)).toEqual(ids.slice(2));
  });

  test('a take that dead-lettered a job replies it again when sent again, for the worker to log and count: the lost reply was its only word of it', async () => {
    const { keys, ids, worker, lost } = await setUp(1, 'take');
    // An entry naming a job whose record is gone (RECORD_LOST), read before the one job.
    const ghost = `inference:${newJobId('inference').slice('inference:'.length)}`;
    await direct.xadd(keys.stream('infer', 'high'), '*', 'job', ghost);
    const taken = await takeJobs(worker, keys, takeRequest({ count: 2 }));
    await lost;
    expect(taken).toMatchObject({ repeated: true, jobs: [{ jobId: ids[0] }], deadOut: [{ jobId: ghost, code: 'RECORD_LOST', stalls: 0 }] });
    expect(await direct.hget(keys.job(ghost), 'status')).toBe('dead');
  });

  test('completions with a take along reply their first outcomes, and the jobs that run took', async () => {
    const { keys, ids, worker, lost } = await setUp(6, 'complete');
    const held = (await takeJobs(direct, keys, takeRequest({ count: 2 }))).jobs;
    const { outcomes, taken, repeated } = await completeStages(
      worker,
      keys,
      held.map((job) => ({ job, output: '{"ok":true}', nextStage: '' })),
      60,
      takeRequest({ count: 2 }),
    );
    await lost;
    expect(repeated).toBe(true);
    expect(outcomes).toEqual(['completed', 'completed']);
    expect(taken.jobs.map((job) => job.jobId)).toEqual(ids.slice(2, 4));
    expect(await pendingOf(keys, 'c1')).toEqual(taken.jobs.map((job) => job.entryId));
    for (const id of ids.slice(0, 2)) expect(await direct.hget(keys.job(id), 'status')).toBe('completed');
  });

  test('a takeover takes each lapsed job over once: one stall, the next attempt', async () => {
    const { keys, ids, worker, lost } = await setUp(2, 'reclaim');
    expect((await takeJobs(direct, keys, takeRequest({ consumer: 'dead-worker', count: 2 }))).jobs).toHaveLength(2);
    const { jobs, repeated } = await reclaimStale(worker, keys, takeRequest({ consumer: 'c2' }), 0);
    await lost;
    expect(repeated).toBe(true);
    expect(jobs.map((job) => [job.jobId, job.attempt])).toEqual([
      [ids[0], 2],
      [ids[1], 2],
    ]);
    for (const id of ids) expect(await direct.hmget(keys.job(id), 'attempts', 'stalls', 'worker')).toEqual(['2', '1', 'c2']);
  });

  test('a restarted worker re-reads its own jobs once', async () => {
    const { keys, ids, worker, lost } = await setUp(2, 'recover');
    expect((await takeJobs(direct, keys, takeRequest({ count: 2 }))).jobs).toHaveLength(2);
    const { jobs, cursors, repeated } = await recoverOwn(worker, keys, takeRequest({ count: 10 }));
    await lost;
    expect(repeated).toBe(true);
    expect(jobs.map((job) => [job.jobId, job.attempt])).toEqual([
      [ids[0], 2],
      [ids[1], 2],
    ]);
    expect(cursors).toEqual(['', '', '']);
    for (const id of ids) expect(await direct.hmget(keys.job(id), 'attempts', 'stalls')).toEqual(['2', '1']);
  });

  test('a failure replies the outcome its first run recorded, once', async () => {
    const { keys, ids, worker, lost } = await setUp(1, 'fail');
    const [held] = (await takeJobs(direct, keys, takeRequest({ count: 1 }))).jobs;
    const error = { message: 'model timed out', retryable: true, stage: 'infer', attempt: 1, at: Date.now() };
    expect(await failAttempt(worker, keys, held!, error, 60_000, 3, 60)).toBe('retrying');
    await lost;
    expect(await direct.hmget(keys.job(ids[0]!), 'status', 'failures')).toEqual(['retrying', '1']);
  });

  test("a failure of a job whose record another client deleted replies that its first run dead-lettered it (RECORD_LOST), not that the attempt is not current", async () => {
    const { keys, ids, worker, lost } = await setUp(1, 'fail');
    const error = { message: 'model timed out', retryable: true, stage: 'infer', attempt: 1, at: Date.now() };
    const [first] = (await takeJobs(direct, keys, takeRequest({ count: 1 }))).jobs;
    expect(await failAttempt(direct, keys, first!, error, 0, 3, 60)).toBe('retrying');
    await promoteDueJobs(direct, keys, 60);
    const [second] = (await takeJobs(direct, keys, takeRequest({ count: 1 }))).jobs;
    await direct.del(keys.job(ids[0]!));
    expect(await failAttempt(worker, keys, second!, { ...error, attempt: 2 }, 0, 3, 60)).toBe('no-record');
    await lost;
    expect(JSON.parse((await direct.hget(keys.job(ids[0]!), 'error'))!)).toMatchObject({ code: 'RECORD_LOST' });
  });

  test('a release replies how many jobs its first run let go of', async () => {
    const { keys, ids, worker, lost } = await setUp(2, 'release');
    const held = (await takeJobs(direct, keys, takeRequest({ count: 2 }))).jobs;
    expect(await releaseJobs(worker, keys, 'c1', held, 60_000, { defaultMaxAttempts: 3, retentionSeconds: 60 })).toBe(2);
    await lost;
    for (const id of ids) expect(await direct.hget(keys.job(id), 'status')).toBe('queued');
  });
});
