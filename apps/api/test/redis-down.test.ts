import { freePort, RedisServer } from '@conveyor/testing';
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
