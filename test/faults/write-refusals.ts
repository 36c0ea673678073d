import { waitFor, type RedisServer } from '@conveyor/testing';
import type { Redis } from 'ioredis';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

/** A way to make a real redis-server refuse writes (`refuse`) until `allow`. */
export interface WriteRefusal {
  refuse(server: RedisServer, redis: Redis): Promise<void>;
  allow(server: RedisServer, redis: Redis): Promise<void>;
}

/** With `noeviction` (as the README asks), a full Redis refuses every write that needs memory (OOM). */
export const outOfMemory: WriteRefusal = {
  refuse: async (_, redis) => void (await redis.config('SET', 'maxmemory', '1')),
  allow: async (_, redis) => void (await redis.config('SET', 'maxmemory', '0')),
};

/**
 * A snapshot that cannot be written (a full or failing disk; here a folder stands where the
 * snapshot goes) makes Redis refuse every write (MISCONF, stop-writes-on-bgsave-error) until a
 * snapshot succeeds again.
 */
export const diskUnwritable: WriteRefusal = {
  refuse: async (server, redis) => {
    await redis.config('SET', 'save', '3600 1');
    rmSync(snapshotOf(server), { recursive: true, force: true });
    mkdirSync(join(snapshotOf(server), 'in-the-way'), { recursive: true });
    expect(await bgsave(redis)).toBe('err');
  },
  allow: async (server, redis) => {
    rmSync(snapshotOf(server), { recursive: true });
    expect(await bgsave(redis)).toBe('ok');
    await redis.config('SET', 'save', '');
  },
};

function snapshotOf(server: RedisServer): string {
  return join(server.dir, 'dump.rdb');
}

/** The snapshot's last outcome, once a BGSAVE started now has ended. */
async function bgsave(redis: Redis): Promise<string> {
  await redis.bgsave();
  return waitFor(async () => {
    const info = await redis.info('persistence');
    return /rdb_bgsave_in_progress:0/.test(info) ? /rdb_last_bgsave_status:(\w+)/.exec(info)![1] : undefined;
  }, 'the snapshot to end');
}
