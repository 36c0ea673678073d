import { RedisServer } from '@conveyor/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { App } from '../src/app.js';
import { buildTestApp } from './test-app.js';

// How many script calls the API made is only visible in Redis's command counts, which are per
// server: this file runs its own redis-server, so no other test's calls count.
describe.skipIf(!RedisServer.available())('POST /jobs requests that arrive together share one script call', () => {
  let server: RedisServer;
  let redis: Redis;
  let app: App;

  beforeAll(async () => {
    server = await RedisServer.start();
    redis = new Redis(server.url);
    app = await buildTestApp(server.url, 'together');
  });
  afterAll(async () => {
    await app.close();
    redis.disconnect();
    await server.stop();
  });

  async function scriptCalls(): Promise<number> {
    const stats = await redis.info('commandstats');
    return Number(/cmdstat_evalsha:calls=(\d+)/.exec(stats)?.[1] ?? 0) + Number(/cmdstat_eval:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  }

  test('40 requests at once: one call for the 39 without a key, one for the keyed one, and each job is its own', async () => {
    const lanes = ['high', 'normal', 'low'] as const;
    const bodies = Array.from({ length: 39 }, (_, i) => ({
      model: 'echo',
      prompt: `job ${i}`,
      priority: lanes[i % 3],
      ...(i % 5 === 0 ? { max_attempts: 7 } : {}),
      ...(i % 13 === 0 ? { delay_ms: 3_600_000 } : {}),
    }));
    await redis.config('RESETSTAT');
    const [keyed, ...answers] = await Promise.all([
      app.inject({ method: 'POST', url: '/jobs', headers: { 'idempotency-key': 'alone' }, payload: { model: 'echo', prompt: 'keyed' } }),
      ...bodies.map((payload) => app.inject({ method: 'POST', url: '/jobs', payload })),
    ]);
    expect(await scriptCalls()).toBe(2);

    expect(keyed!.statusCode).toBe(202);
    expect(answers.map((answer) => answer.statusCode)).toEqual(bodies.map(() => 202));
    const ids = answers.map((answer) => answer.json().job_id as string);
    expect(new Set([...ids, keyed!.json().job_id]).size).toBe(40);
    for (const [i, answer] of answers.entries()) {
      const body = bodies[i]!;
      expect(answer.json().status).toBe(body.delay_ms ? 'delayed' : 'queued');
      const job = (await app.inject({ url: answer.headers['location'] as string })).json();
      expect(job).toMatchObject({
        status: body.delay_ms ? 'delayed' : 'queued',
        priority: body.priority,
        max_attempts: body.max_attempts ?? 3,
        input: { model: 'echo', prompt: body.prompt },
      });
    }
  });

  test('a bad request among them is refused alone; the others are stored in one call', async () => {
    await redis.config('RESETSTAT');
    const answers = await Promise.all([
      app.inject({ method: 'POST', url: '/jobs', payload: { model: 'no-such-model' } }),
      app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', priority: 'urgent' } }),
      ...Array.from({ length: 8 }, (_, i) => app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: `ok ${i}` } })),
    ]);
    expect(answers.map((answer) => answer.statusCode)).toEqual([400, 400, 202, 202, 202, 202, 202, 202, 202, 202]);
    expect(answers[0]!.json().type).toBe('/problems/unknown-model');
    expect(answers[1]!.json().type).toBe('/problems/invalid-request');
    expect(await scriptCalls()).toBe(1);
    for (const answer of answers.slice(2)) expect((await app.inject({ url: answer.headers['location'] as string })).json().status).toBe('queued');
  });
});
