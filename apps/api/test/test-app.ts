import { apiEnvSchema, createLogger, ensureGroups, loadConfig, PIPELINES } from '@conveyor/shared';
import { redisTest, waitFor } from '@conveyor/testing';
import { buildApp, type App } from '../src/app.js';

/** The real API, built in-process (no port) against the test run's Redis under `prefix`. */
export async function buildTestApp(redisUrl: string, prefix: string, env: Record<string, string> = {}): Promise<App> {
  const config = loadConfig(apiEnvSchema, { REDIS_URL: redisUrl, KEY_PREFIX: prefix, ...env });
  const app = await buildApp({ config, logger: createLogger('api', 'silent') });
  await app.ready();
  if (!env['EXPECT_REDIS_DOWN']) {
    await waitFor(() => app.redis.status === 'ready', 'the API Redis connection');
    // The API creates the groups when its connection becomes ready; wait for that to be done so
    // tests that compare the keys before and after a request see only what the request wrote.
    await ensureGroups(app.redis, prefix, PIPELINES);
  }
  return app;
}

/** Vitest's `test` with an `app` fixture: the real API built with `env`, closed after each test. */
export function testWithApp(env: Record<string, string> = {}) {
  return redisTest.extend<{ app: App }>({
    app: async ({ redisUrl, prefix }, use) => {
      const app = await buildTestApp(redisUrl, prefix, env);
      await use(app);
      await app.close();
    },
  });
}

/**
 * Vitest's `test` with the real API built with `env` and listening on a port of its own: for what
 * Node's server does (connections, raw bytes, `Expect`), which `app.inject` skips.
 */
export function testWithListeningApp(env: Record<string, string> = {}) {
  return testWithApp(env).extend<{ port: number }>({
    port: async ({ app }, use) => {
      await app.listen({ port: 0, host: '127.0.0.1' });
      await use((app.server.address() as { port: number }).port);
    },
  });
}
