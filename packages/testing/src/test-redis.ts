import { RedisServer } from './redis-server.js';

export interface ProvidedRedis {
  url: string;
  stop(): Promise<void>;
  source: 'TEST_REDIS_URL' | 'redis-server' | 'testcontainers';
}

/**
 * The Redis a test run uses, in this order: `TEST_REDIS_URL` (never `REDIS_URL`: a test run must
 * not touch a user's real Redis); else a `redis-server` child process on a free port; else a
 * Redis container through testcontainers when a Docker engine answers.
 */
export async function provideTestRedis(): Promise<ProvidedRedis> {
  const given = process.env.TEST_REDIS_URL;
  if (given) return { url: given, source: 'TEST_REDIS_URL', stop: async () => {} };

  if (RedisServer.available()) {
    const server = await RedisServer.start();
    return { url: server.url, source: 'redis-server', stop: () => server.stop() };
  }

  try {
    const { RedisContainer } = await import('@testcontainers/redis');
    const container = await new RedisContainer('redis:7.4-alpine').start();
    return { url: container.getConnectionUrl(), source: 'testcontainers', stop: async () => void (await container.stop()) };
  } catch (error) {
    throw new Error(
      'Tests need a real Redis 7+, and none could be found:\n' +
        '  - set TEST_REDIS_URL=redis://host:port/db (a Redis the tests may write to), or\n' +
        '  - install redis-server (Debian/Ubuntu: sudo apt-get install -y redis-server), or\n' +
        `  - run a Docker engine so testcontainers can start one (it said: ${(error as Error).message})`,
    );
  }
}
