import type { Redis } from 'ioredis';
import { cpus, release, totalmem, type as osType } from 'node:os';

export interface Machine {
  cores: number;
  cpu: string;
  memory_gib: number;
  os: string;
  node: string;
  redis: string;
}

export async function describeMachine(redis: Redis): Promise<Machine> {
  const info = await redis.info('server');
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memory_gib: Math.round(totalmem() / 1024 ** 3),
    os: `${osType()} ${release()}`,
    node: process.version,
    redis: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
  };
}
