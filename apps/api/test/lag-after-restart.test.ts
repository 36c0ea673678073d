import { completeStage, createRedis, enqueueJobs, ensureGroups, newJobId, PIPELINES, QueueKeys, takeJobs, type NewJob } from '@conveyor/shared';
import { RedisServer, takeRequest, TEST_LIMITS, uniquePrefix, waitFor } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { App } from '../src/app.js';
import { buildTestApp } from './test-app.js';

/**
 * The group lag (GET /queues' waiting_tasks, KEDA's lagCount) after Redis restarts from its AOF.
 * Redis 7.0 writes an XREADGROUP to the AOF as XCLAIMs, which do not carry the group's
 * entries-read counter: without Conveyor writing it, a replay leaves it unknown (lag null) or,
 * after an AOF rewrite, as old as the rewrite (every entry delivered since then counted as waiting).
 */
describe.runIf(RedisServer.available())('group lag after Redis restarts from its AOF', () => {
  let server: RedisServer;
  let redis: Redis;
  let app: App | undefined;
  const prefix = uniquePrefix('lag');
  const keys = new QueueKeys(prefix, 'inference');
  const stream = keys.stream('infer', 'normal');

  beforeEach(async () => {
    server = await RedisServer.start({ appendfsync: 'always' });
    redis = createRedis(server.url, { role: 'command', name: 'conveyor:test:lag' });
    await ensureGroups(redis, prefix, PIPELINES);
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
    redis.disconnect();
    await server.stop();
  });

  const job = (): NewJob => ({ id: newJobId('inference'), lane: 'normal', payload: JSON.stringify({ model: 'echo', prompt: 'hi' }) });

  async function enqueue(count: number): Promise<void> {
    expect((await enqueueJobs(redis, keys, 'infer', Array.from({ length: count }, job), TEST_LIMITS)).ok).toBe(true);
  }

  /** Takes `count` jobs (the worker's script) and completes them. */
  async function run(count: number): Promise<void> {
    const { jobs } = await takeJobs(redis, keys, takeRequest({ count }));
    expect(jobs).toHaveLength(count);
    for (const taken of jobs) expect(await completeStage(redis, keys, taken, '{}', '', 60)).toBe('completed');
  }

  async function rewriteAof(): Promise<void> {
    await redis.bgrewriteaof();
    await waitFor(async () => /aof_rewrite_in_progress:0/.test(await redis.info('persistence')) && /aof_rewrite_scheduled:0/.test(await redis.info('persistence')), 'the AOF rewrite');
  }

  async function restartRedis(): Promise<void> {
    await app?.close();
    app = undefined;
    await server.kill('SIGTERM');
    await server.restart();
    await waitFor(async () => (await redis.ping().catch(() => '')) === 'PONG', 'the test connection again');
  }

  async function lag(): Promise<unknown> {
    const group = ((await redis.xinfo('GROUPS', stream)) as unknown[][])[0]!;
    return group[group.indexOf('lag') + 1];
  }

  async function waitingTasks(): Promise<unknown> {
    app ??= await buildTestApp(server.url, prefix);
    return (await app.inject({ url: '/queues/inference' })).json().stages[0].lanes.normal.waiting_tasks;
  }

  test('after an AOF rewrite, the entries delivered since are not counted as waiting once Redis restarts', async () => {
    await enqueue(5);
    await run(5);
    await rewriteAof();
    // After the rewrite: 7 more entries, 4 of them delivered (and done), 3 waiting.
    await enqueue(7);
    await run(4);
    expect(await lag()).toBe(3);

    await restartRedis();
    expect(await lag()).toBe(3);
    expect(await waitingTasks()).toBe(3);

    // Every entry done, Redis restarted twice: nothing waits.
    await run(3);
    await restartRedis();
    expect(await lag()).toBe(0);
    await restartRedis();
    expect(await lag()).toBe(0);
    expect(await waitingTasks()).toBe(0);
    await enqueue(2);
    await run(1);
    expect(await lag()).toBe(1);
  });

  test('without a rewrite, the lag stays known (not null) while entries wait behind delivered ones', async () => {
    await enqueue(6);
    await run(2);
    await restartRedis();
    // Redis cannot tell this lag from an unknown counter; KEDA reads it as it is.
    expect(await lag()).toBe(4);
    await run(1);
    await restartRedis();
    expect(await lag()).toBe(3);
    expect(await waitingTasks()).toBe(3);
  });

  test('a counter that is already stale (data of an older version) is set right once the group has read everything', async () => {
    await enqueue(4);
    await run(4);
    // What a replay left before this fix: the counter of an earlier rewrite.
    await redis.call('XGROUP', 'SETID', stream, 'infer', '$', 'ENTRIESREAD', 1);
    expect(await lag()).toBe(3);

    // A take that finds nothing to deliver (a worker's first poll) sets it right, and a restart keeps it.
    expect((await takeJobs(redis, keys, takeRequest())).jobs).toHaveLength(0);
    expect(await lag()).toBe(0);
    await restartRedis();
    expect(await lag()).toBe(0);
    expect(await waitingTasks()).toBe(0);
  });
});
