import { redisTest } from '@conveyor/testing';
import { describe, expect, test } from 'vitest';
import { checkRedisSetup, redisVersionRefusal, UnusableRedisError } from '../src/index.js';

// No Redis older than 7.0 can be installed here, so the refusal is checked on the versions INFO
// gives; the real 7.0 below shows the whole check passing.
describe('the Redis version', () => {
  test.each(['6.2.14', '6.0.20', '5.0.14', '2.8.24'])('%s is refused, saying what to do', (version) => {
    const refusal = redisVersionRefusal(version);
    expect(refusal).toBeInstanceOf(UnusableRedisError);
    expect(refusal?.code).toBe('REDIS_TOO_OLD');
    expect(refusal?.message).toBe(
      `Redis ${version} is older than 7.0, which Conveyor needs: its scripts use what 7.0 added (EXPIRE with NX, XCLAIM dropping deleted entries from a pending list, a consumer group's lag). Point REDIS_URL at Redis 7.0 or newer.`,
    );
  });

  // 10.0 is newer than 7.0, though "10.0" sorts before "7.0" as text.
  test.each(['7.0.0', '7.0.15', '7.2.4', '7.4.1', '8.0.2', '10.0.0', '255.255.255', 'unstable', ''])('%s is not refused', (version) => {
    expect(redisVersionRefusal(version)).toBeUndefined();
  });
});

describe("checkRedisSetup on this machine's Redis", () => {
  redisTest('passes without a warning', async ({ redis }) => {
    const version = /^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1];
    expect(Number(version?.split('.')[0])).toBeGreaterThanOrEqual(7);
    const warnings: string[] = [];
    await checkRedisSetup(redis, { warn: (message) => warnings.push(message) }, true);
    expect(warnings).toEqual([]);
  });
});
