import { createRedis, enqueueJobs, LANES, newJobId, QueueKeys, type NewJob } from '@conveyor/shared';
import type { Redis } from 'ioredis';
import { expect } from 'vitest';

/** Fast settings for fault tests: short leases and frequent maintenance, so recoveries take seconds. */
export const FAST = { LEASE_MS: '1s', MAINTENANCE_INTERVAL: '100ms', BLOCK_MS: '1s', LOG_TRANSITIONS: 'false' };

export function connect(url: string): Redis {
  return createRedis(url, { role: 'command', name: 'conveyor:fault-test' });
}

/** `count` echo jobs, each sleeping a random time in [minMs, maxMs], enqueued in batches. */
export async function enqueueEcho(redis: Redis, prefix: string, count: number, minMs = 0, maxMs = 0, extra: Partial<NewJob> = {}): Promise<string[]> {
  const keys = new QueueKeys(prefix, 'inference');
  const ids: string[] = [];
  for (let start = 0; start < count; start += 500) {
    const batch = Array.from({ length: Math.min(500, count - start) }, (): NewJob => {
      const sleep = Math.round(minMs + Math.random() * (maxMs - minMs));
      return { id: newJobId('inference'), lane: 'normal', payload: JSON.stringify({ model: 'echo', prompt: 'fault', params: { sleep_ms: sleep } }), ...extra };
    });
    const outcome = await enqueueJobs(redis, keys, 'infer', batch, { idempotencyTtlSeconds: 60, maxBacklog: 0 });
    expect(outcome.ok).toBe(true);
    ids.push(...batch.map((job) => job.id));
  }
  return ids;
}

export interface JobState {
  status: string | null;
  attempts: number;
  worker: string | null;
  errors: { code?: string; message: string; at?: number }[];
}

export async function statesOf(redis: Redis, prefix: string, ids: readonly string[]): Promise<JobState[]> {
  const keys = new QueueKeys(prefix, 'inference');
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hmget(keys.job(id), 'status', 'attempts', 'worker', 'errors');
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([, value]) => {
    const [status, attempts, worker, errors] = value as (string | null)[];
    return { status: status ?? null, attempts: Number(attempts ?? 0), worker: worker ?? null, errors: errors ? JSON.parse(errors) : [] };
  });
}

export function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/** Entries pending in the `infer` group of every lane, and entries the workers hold by their records. */
export async function pendingAndActive(redis: Redis, prefix: string): Promise<{ pending: number; active: number }> {
  const keys = new QueueKeys(prefix, 'inference');
  let pending = 0;
  for (const lane of LANES) pending += Number(((await redis.xpending(keys.stream('infer', lane), 'infer')) as [number])[0]);
  return { pending, active: await redis.hlen(keys.active) };
}

export function report(title: string, figures: Record<string, unknown>): void {
  const lines = Object.entries(figures).map(([name, value]) => `  ${name}: ${typeof value === 'object' ? JSON.stringify(value) : value}`);
  console.log(`\n[fault] ${title}\n${lines.join('\n')}`);
}
