import { RedisServer, takeRequest, TEST_LIMITS } from '@conveyor/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { completeStage, createRedis, enqueueJobs, ensureGroups, newJobId, QueueKeys, takeJobs, type Pipeline } from '../src/index.js';

const pipelines: Pipeline[] = [{ name: 'inference', input: 'json', stages: ['infer'] }];

// Whether an event was published is only visible in Redis's command counts, which are per server:
// this file runs its own redis-server, so no other test's subscribers or publishes count.
describe.skipIf(!RedisServer.available())('events are published only while someone may listen', () => {
  let server: RedisServer;
  let redis: Redis;
  const keys = new QueueKeys('watch', 'inference');

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = createRedis(server.url, { role: 'command', name: 'conveyor:test:watch' });
    await ensureGroups(redis, 'watch', pipelines);
  });
  afterAll(async () => {
    redis.disconnect();
    await server.stop();
  });

  /** Enqueues, takes and completes one job; returns how many PUBLISH calls that made. */
  async function publishesOfOneJob(): Promise<number> {
    await redis.config('RESETSTAT');
    await enqueueJobs(redis, keys, 'infer', [{ id: newJobId('inference'), lane: 'normal', payload: '{"prompt":"hi"}' }], TEST_LIMITS);
    const [held] = (await takeJobs(redis, keys, takeRequest())).jobs;
    expect(await completeStage(redis, keys, held!, '{"text":"hi"}', '', 60)).toBe('completed');
    const stats = await redis.info('commandstats');
    return Number(/cmdstat_publish:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  }

  test('nobody listening: nothing is published', async () => {
    expect(await publishesOfOneJob()).toBe(0);
  });

  /** Runs one job while `subscriber` listens (subscribed by `listen`); expects all three events published and received. */
  async function expectEventsWith(listen: (subscriber: Redis) => Promise<unknown>) {
    const subscriber = new Redis(server.url);
    const events: string[] = [];
    const record = (text: string) => events.push((JSON.parse(text) as { event: string }).event);
    subscriber.on('message', (_channel: string, text: string) => record(text));
    subscriber.on('pmessage', (_pattern: string, _channel: string, text: string) => record(text));
    await listen(subscriber);
    try {
      expect(await publishesOfOneJob()).toBe(3);
      await expect.poll(() => events).toEqual(['queued', 'active', 'completed']);
    } finally {
      subscriber.disconnect();
    }
  }

  test('a subscriber to the channel gets queued, active and completed', async () => {
    await expectEventsWith((subscriber) => subscriber.subscribe(keys.events));
  });

  test('a pattern subscriber gets them too', async () => {
    await expectEventsWith((subscriber) => subscriber.psubscribe('watch:*'));
  });

  test('the watch mark an API sets (for subscribers on other cluster nodes) turns publishing on until it expires', async () => {
    await expect.poll(async () => ((await redis.pubsub('NUMSUB', keys.events)) as [string, number])[1]).toBe(0);
    expect(await redis.pubsub('NUMPAT')).toBe(0);
    await redis.set(keys.eventsWatched, '1', 'PX', 300);
    expect(await publishesOfOneJob()).toBe(3);
    await expect.poll(() => redis.exists(keys.eventsWatched), { timeout: 2_000 }).toBe(0);
    expect(await publishesOfOneJob()).toBe(0);
  });
});
