import { freePort, RedisServer, waitFor } from '@conveyor/testing';
import { Redis } from 'ioredis';
import { expect, test } from 'vitest';
import { buildTestApp } from './test-app.js';

test('while Redis is unreachable, POST answers 503 with Retry-After within a second and /readyz fails; /healthz stays up', async () => {
  const closedPort = await freePort();
  const app = await buildTestApp(`redis://127.0.0.1:${closedPort}`, 'down', { EXPECT_REDIS_DOWN: '1' });
  try {
    const started = Date.now();
    const response = await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo', prompt: 'hi' } });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.json()).toMatchObject({ type: '/problems/service-unavailable', detail: expect.stringContaining('Nothing was written') });
    expect((await app.inject({ url: '/readyz' })).statusCode).toBe(503);
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/jobs/inference:01JDQ8K3V7X9ABCDEFGHJKMNPQ' })).statusCode).toBe(503);
  } finally {
    await app.close();
  }
});

test('/readyz says why Redis does not answer: the connection\'s own error, such as a wrong password', async () => {
  const server = await RedisServer.start();
  const root = new Redis(server.url);
  await root.config('SET', 'requirepass', 'right-password');
  root.disconnect();
  const closedPort = await freePort();
  const wrong = await buildTestApp(`redis://:wrong-password@127.0.0.1:${server.port}`, 'wrong', { EXPECT_REDIS_DOWN: '1' });
  const closed = await buildTestApp(`redis://127.0.0.1:${closedPort}`, 'closed', { EXPECT_REDIS_DOWN: '1' });
  try {
    for (const [app, why] of [
      [wrong, /^Redis does not answer: WRONGPASS invalid username-password pair/],
      [closed, new RegExp(`^Redis does not answer: connect ECONNREFUSED 127\\.0\\.0\\.1:${closedPort}`)],
    ] as const) {
      await waitFor(() => app.redisConnectionError() !== undefined, 'a connection error');
      const response = await app.inject({ url: '/readyz' });
      expect(response.statusCode).toBe(503);
      expect(response.json().detail).toMatch(why);
    }
  } finally {
    await Promise.all([wrong.close(), closed.close()]);
    await server.stop();
  }
});

test('the API recovers by itself when Redis comes back', async () => {
  const server = await RedisServer.start();
  const app = await buildTestApp(server.url, 'back');
  try {
    await server.kill('SIGKILL');
    expect((await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).statusCode).toBe(503);
    await server.restart();
    let status = 0;
    for (let i = 0; i < 100 && status !== 202; i++) {
      status = (await app.inject({ method: 'POST', url: '/jobs', payload: { model: 'echo' } })).statusCode;
      if (status !== 202) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(202);
  } finally {
    await app.close();
    await server.stop();
  }
});
