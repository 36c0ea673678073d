import { redisTest as test, takeRequest, TEST_LIMITS } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import { completeStage, enqueueJobs, ensureConsumer, ensureGroups, heartbeat, leaveQueue, newJobId, pruneIdleConsumers, QueueKeys, takeJobs, trimHistory, type Pipeline } from '../src/index.js';

const pipelines: Pipeline[] = [{ name: 'inference', input: 'json', stages: ['infer'] }];

async function addEntries(redis: Redis, stream: string, count: number, id: (i: number) => string = () => '*'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push((await redis.xadd(stream, id(i), 'n', String(i)))!);
  return ids;
}

async function entryIds(redis: Redis, stream: string): Promise<string[]> {
  return (await redis.xrange(stream, '-', '+')).map(([id]) => id);
}

async function redisNowMs(redis: Redis): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
}

async function consumerNames(redis: Redis, stream: string, group: string): Promise<string[]> {
  const consumers = (await redis.xinfo('CONSUMERS', stream, group)) as string[][];
  return consumers.map((consumer) => consumer[consumer.indexOf('name') + 1]!).sort();
}

/**
 * Ten entries; the stage's group has acked the first 4, holds the next 2 pending and has not
 * read the last 4.
 */
async function consumedInPart(redis: Redis, prefix: string): Promise<{ stream: string; ids: string[] }> {
  await ensureGroups(redis, prefix, pipelines);
  const stream = new QueueKeys(prefix, 'inference').stream('infer', 'normal');
  const ids = await addEntries(redis, stream, 10);
  await redis.xreadgroup('GROUP', 'infer', 'c1', 'COUNT', 6, 'STREAMS', stream, '>');
  await redis.xack(stream, 'infer', ...ids.slice(0, 4));
  return { stream, ids };
}

describe('trimming stream history', () => {
  test('an entry another group has not read is never trimmed; once that group is gone, exactly the acked entries below the oldest pending one are', async ({ redis, prefix }) => {
    const { stream, ids } = await consumedInPart(redis, prefix);
    await redis.xgroup('CREATE', stream, 'audit', '0');

    expect((await trimHistory(redis, stream, 0)).removed).toBe(0);
    expect(await entryIds(redis, stream)).toEqual(ids);

    await redis.xgroup('DESTROY', stream, 'audit');
    expect((await trimHistory(redis, stream, 0)).removed).toBe(4);
    expect(await entryIds(redis, stream)).toEqual(ids.slice(4));
    expect((await trimHistory(redis, stream, 0)).removed).toBe(0);
    expect(await entryIds(redis, stream)).toEqual(ids.slice(4));
  });

  test("another program's group that alone keeps entries past the history window is named with the oldest entry it holds; the stream's own group behind, or a group that keeps up, is not", async ({ redis, prefix }) => {
    const { stream, ids } = await consumedInPart(redis, prefix);
    // Without the stream's own group named, no group is told apart.
    await redis.xgroup('CREATE', stream, 'watcher', '0');
    expect(await trimHistory(redis, stream, 0)).toEqual({ removed: 0, aheadMs: 0 });
    expect(await trimHistory(redis, stream, 0, 'consumed', 'infer')).toEqual({ removed: 0, aheadMs: 0, heldBack: { group: 'watcher', from: '0-0' } });
    // Within the history window, nothing would be trimmed anyway: nothing to say.
    expect(await trimHistory(redis, stream, 3_600_000, 'consumed', 'infer')).toEqual({ removed: 0, aheadMs: 0 });
    // It reads two entries and keeps them pending: named with the first.
    await redis.xreadgroup('GROUP', 'watcher', 'w1', 'COUNT', 2, 'STREAMS', stream, '>');
    expect(await trimHistory(redis, stream, 0, 'consumed', 'infer')).toEqual({ removed: 0, aheadMs: 0, heldBack: { group: 'watcher', from: ids[0] } });
    // Once it has read and acknowledged past the stage's group, that group is what keeps entries: nothing to say.
    await redis.xreadgroup('GROUP', 'watcher', 'w1', 'COUNT', 100, 'STREAMS', stream, '>');
    await redis.xack(stream, 'watcher', ...ids);
    expect(await trimHistory(redis, stream, 0, 'consumed', 'infer')).toEqual({ removed: 4, aheadMs: 0 });
  });

  test('an entry another group holds pending is never trimmed; once every group has acked it, it is', async ({ redis, prefix }) => {
    const { stream, ids } = await consumedInPart(redis, prefix);
    await redis.xgroup('CREATE', stream, 'audit', '0');
    await redis.xreadgroup('GROUP', 'audit', 'a1', 'COUNT', 100, 'STREAMS', stream, '>');
    await redis.xack(stream, 'audit', ...ids.slice(0, 2));

    expect((await trimHistory(redis, stream, 0)).removed).toBe(2);
    expect(await entryIds(redis, stream)).toEqual(ids.slice(2));

    await redis.xack(stream, 'audit', ...ids);
    expect((await trimHistory(redis, stream, 0)).removed).toBe(2);
    expect(await entryIds(redis, stream)).toEqual(ids.slice(4));
  });

  test('acknowledged entries younger than the history window are kept; older ones are trimmed', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const stream = new QueueKeys(prefix, 'inference').stream('infer', 'normal');
    const twoMinutesAgo = (await redisNowMs(redis)) - 120_000;
    const old = await addEntries(redis, stream, 3, (i) => `${twoMinutesAgo}-${i + 1}`);
    const recent = await addEntries(redis, stream, 3);
    await redis.xreadgroup('GROUP', 'infer', 'c1', 'COUNT', 100, 'STREAMS', stream, '>');
    await redis.xack(stream, 'infer', ...old, ...recent);

    expect((await trimHistory(redis, stream, 3_600_000)).removed).toBe(0);
    expect(await entryIds(redis, stream)).toEqual([...old, ...recent]);
    expect((await trimHistory(redis, stream, 60_000)).removed).toBe(3);
    expect(await entryIds(redis, stream)).toEqual(recent);
  });

  test('a history longer than the time since 1970 (STREAM_HISTORY=99999d, "keep for ever") keeps every entry, in both modes: the bound was no stream ID, and the script failed', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'normal');
    const entries = await addEntries(redis, stream, 2);
    await redis.xreadgroup('GROUP', 'infer', 'c1', 'COUNT', 100, 'STREAMS', stream, '>');
    await redis.xack(stream, 'infer', ...entries);
    const dead = await addEntries(redis, keys.dead, 2);
    const forever = 99_999 * 86_400_000;
    expect(await trimHistory(redis, stream, forever)).toEqual({ removed: 0, aheadMs: 0 });
    expect((await trimHistory(redis, keys.dead, forever, 'age')).removed).toBe(0);
    expect(await entryIds(redis, stream)).toEqual(entries);
    expect(await entryIds(redis, keys.dead)).toEqual(dead);
  });

  test('a stream whose IDs another producer put ahead of the clock keeps no history but what is not done, so it does not grow until then', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const stream = new QueueKeys(prefix, 'inference').stream('infer', 'normal');
    const now = await redisNowMs(redis);
    const before = await addEntries(redis, stream, 2);
    await redis.xreadgroup('GROUP', 'infer', 'c1', 'COUNT', 100, 'STREAMS', stream, '>');
    await redis.xack(stream, 'infer', ...before);
    expect(await trimHistory(redis, stream, 3_600_000)).toEqual({ removed: 0, aheadMs: 0 });

    // An explicit ID in 2100: every entry added after it, with *, is numbered after it.
    const year2100 = 4_102_444_800_000;
    const ahead = [...(await addEntries(redis, stream, 1, () => `${year2100}-0`)), ...(await addEntries(redis, stream, 4))];
    expect(ahead.every((id) => id.startsWith(`${year2100}-`))).toBe(true);
    await redis.xreadgroup('GROUP', 'infer', 'c1', 'COUNT', 3, 'STREAMS', stream, '>');
    await redis.xack(stream, 'infer', ...ahead.slice(0, 2));

    // Acknowledged entries go, with an hour of history asked for; the pending one and the two unread stay.
    const trimmed = await trimHistory(redis, stream, 3_600_000);
    expect(trimmed.removed).toBe(4);
    expect(trimmed.aheadMs).toBeGreaterThan(year2100 - now - 60_000);
    expect(await entryIds(redis, stream)).toEqual(ahead.slice(2));
  });

  test('a stream that no group reads is not trimmed, except in age mode (the dead stream), which removes entries older than the history', async ({ redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const twoMinutesAgo = (await redisNowMs(redis)) - 120_000;
    const old = await addEntries(redis, keys.dead, 2, (i) => `${twoMinutesAgo}-${i + 1}`);
    const recent = await addEntries(redis, keys.dead, 1);

    expect((await trimHistory(redis, keys.dead, 0)).removed).toBe(0);
    expect(await entryIds(redis, keys.dead)).toEqual([...old, ...recent]);
    expect((await trimHistory(redis, keys.dead, 60_000, 'age')).removed).toBe(2);
    expect(await entryIds(redis, keys.dead)).toEqual(recent);
    expect((await trimHistory(redis, keys.stream('infer', 'normal'), 0)).removed).toBe(0);
  });
});

describe('pruning consumers', () => {
  test('consumers that hold nothing and have been idle longer than idleMs are deleted; a recently active one is kept', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'normal');
    await redis.xgroup('CREATECONSUMER', stream, 'infer', 'worker-a-1');
    await redis.xgroup('CREATECONSUMER', stream, 'infer', 'worker-b-2');
    await sleep(150);
    await redis.xgroup('CREATECONSUMER', stream, 'infer', 'worker-c-3');

    expect(await pruneIdleConsumers(redis, stream, 'infer', 100, 'worker-d-4', keys.workers)).toBe(2);
    expect(await consumerNames(redis, stream, 'infer')).toEqual(['worker-c-3']);
    expect(await pruneIdleConsumers(redis, stream, 'no-such-group', 0, 'worker-d-4', keys.workers)).toBe(0);
  });

  test('a consumer with pending entries is never deleted however idle, nor is the caller itself', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'normal');
    const [entryId] = await addEntries(redis, stream, 1);
    await redis.xreadgroup('GROUP', 'infer', 'busy', 'COUNT', 1, 'STREAMS', stream, '>');
    await redis.xgroup('CREATECONSUMER', stream, 'infer', 'self');
    await sleep(150);

    expect(await pruneIdleConsumers(redis, stream, 'infer', 100, 'self', keys.workers)).toBe(0);
    expect(await consumerNames(redis, stream, 'infer')).toEqual(['busy', 'self']);
    expect((await redis.xpending(stream, 'infer'))[0]).toBe(1);

    await redis.xack(stream, 'infer', entryId!);
    expect(await pruneIdleConsumers(redis, stream, 'infer', 100, 'self', keys.workers)).toBe(1);
    expect(await consumerNames(redis, stream, 'infer')).toEqual(['self']);
  });

  test("a consumer whose worker says it reads the queue is kept however idle (a live worker reads no lane without work); once its word lapses it is pruned", async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    const stream = keys.stream('infer', 'low');
    await redis.xgroup('CREATECONSUMER', stream, 'infer', 'live-worker');
    await redis.xgroup('CREATECONSUMER', stream, 'infer', 'gone-worker');
    await heartbeat(redis, keys, 'live-worker', 300, 60_000, false, 30_000);
    await sleep(150);

    expect(await pruneIdleConsumers(redis, stream, 'infer', 100, 'self', keys.workers)).toBe(1);
    expect(await consumerNames(redis, stream, 'infer')).toEqual(['live-worker']);

    await sleep(200);
    expect(await pruneIdleConsumers(redis, stream, 'infer', 100, 'self', keys.workers)).toBe(1);
    expect(await consumerNames(redis, stream, 'infer')).toEqual([]);
  });

  test('a worker puts its own consumer back in a group that lost it (Redis 7.0 does not keep a consumer never delivered anything across a restart)', async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const stream = new QueueKeys(prefix, 'inference').stream('infer', 'high');
    expect(await ensureConsumer(redis, stream, 'infer', 'worker-e-5')).toBe(true);
    expect(await ensureConsumer(redis, stream, 'infer', 'worker-e-5')).toBe(false);
    expect(await consumerNames(redis, stream, 'infer')).toEqual(['worker-e-5']);
    expect(await ensureConsumer(redis, stream, 'no-such-group', 'worker-e-5')).toBe(false);
    expect(await ensureConsumer(redis, `${stream}:missing`, 'infer', 'worker-e-5')).toBe(false);
  });
});

describe('workers saying they read a queue', () => {
  test("a lease stays named while its worker holds an entry, however long it has been silent and however short the sweeping worker's keepMs; once it holds none, a sweep drops it", async ({ redis, prefix }) => {
    await ensureGroups(redis, prefix, pipelines);
    const keys = new QueueKeys(prefix, 'inference');
    await enqueueJobs(redis, keys, 'infer', [{ id: newJobId('inference'), lane: 'normal', payload: '{"model":"echo"}' }], TEST_LIMITS);
    await heartbeat(redis, keys, 'frozen', 10, 60_000, false, 5_000);
    await heartbeat(redis, keys, 'idle', 10, 60_000, false, 5_000);
    const [held] = (await takeJobs(redis, keys, takeRequest({ consumer: 'frozen' }))).jobs;
    await sleep(60);
    // Both words are gone after keepMs (20 ms); the lease of the one holding an entry is not.
    expect(await heartbeat(redis, keys, 'sweeper', 10_000, 20, ['infer'], 1_000)).toBe(2);
    expect((await redis.hkeys(keys.leases)).sort()).toEqual(['frozen', 'sweeper']);
    // The hash is kept at least the longest lease named, not the sweeper's 20 ms.
    expect(await redis.pttl(keys.leases)).toBeGreaterThan(1_000);
    expect(await completeStage(redis, keys, held!, '{}', '', 60)).toBe('completed');
    await heartbeat(redis, keys, 'sweeper', 10_000, 20, ['infer'], 1_000);
    expect(await redis.hkeys(keys.leases)).toEqual(['sweeper']);
  });

  test("a word lasts liveMs on Redis's clock; a sweep drops the words older than keepMs, and leaving ends one's own and keeps its lease named until a sweep", async ({ redis, prefix }) => {
    const keys = new QueueKeys(prefix, 'inference');
    const before = await redisNowMs(redis);
    expect(await heartbeat(redis, keys, 'old', 10, 60_000, false, 30_000)).toBe(0);
    expect(await heartbeat(redis, keys, 'gone', 10, 60_000, false, 30_000)).toBe(0);
    const until = Number(await redis.hget(keys.workers, 'old'));
    expect(until).toBeGreaterThanOrEqual(before + 10);
    expect(until).toBeLessThan(before + 1_000);
    expect(await redis.pttl(keys.workers)).toBeGreaterThan(59_000);
    await sleep(60);
    // A sweep with keepMs 20: both words ran out more than 20 ms ago; the caller's own is new.
    expect(await heartbeat(redis, keys, 'self', 10_000, 20, ['infer'], 30_000)).toBe(2);
    // (The hash now expires 20 ms after that word; the next one keeps it longer.)
    await heartbeat(redis, keys, 'self', 10_000, 60_000, false, 30_000);
    expect(await redis.hkeys(keys.workers)).toEqual(['self']);
    const left = await redisNowMs(redis);
    await leaveQueue(redis, keys, 'self', 60_000, 40);
    expect(Number(await redis.hget(keys.workers, 'self'))).toBeLessThanOrEqual(left + 50);
    expect(await redis.hget(keys.leases, 'self')).toMatch(/^40 \d+$/);
    await sleep(60);
    // Its word and its lease are dropped once older than keepMs (20 ms): it holds no entry.
    expect(await heartbeat(redis, keys, 'other', 10_000, 20, ['infer'], 30_000)).toBe(1);
    expect(await redis.hkeys(keys.leases)).toEqual(['other']);
  });
});
