import { createRedis } from '@conveyor/shared';
import type { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { inject, test as base } from 'vitest';

/** A key prefix no other test uses, so test files can share one Redis and run in parallel. */
export function uniquePrefix(label = 't'): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

/** Deletes every key under `prefix`. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** Deletes every key under `prefix` in the Redis at `url`, on a connection of its own (a test file's last step). */
export async function deletePrefixAt(url: string, prefix: string): Promise<void> {
  const redis = createRedis(url, { role: 'command', name: 'cleanup' });
  try {
    await deletePrefix(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

/** Every key under `prefix`, sorted. */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found.sort();
}

export interface RedisFixture {
  /** The run's Redis URL. */
  redisUrl: string;
  /** This test's key prefix; its keys are deleted afterwards. */
  prefix: string;
  /** A command connection with Conveyor's scripts defined. */
  redis: Redis;
}

/** `test` with a real Redis: `redisTest('...', async ({ redis, prefix }) => ...)`. */
export const redisTest = base.extend<RedisFixture>({
  redisUrl: async ({}, use) => use(inject('redisUrl')),
  prefix: async ({}, use) => use(uniquePrefix()),
  redis: async ({ redisUrl, prefix }, use) => {
    const redis = createRedis(redisUrl, { role: 'command', name: `conveyor:test:${prefix}` });
    await use(redis);
    await deletePrefix(redis, prefix);
    redis.disconnect();
  },
});
