import type { Redis } from 'ioredis';
import { flush, formatNumber, SEED_JOB, type BenchContext, type ScenarioResult } from '../scenario.js';
import { BullmqStack } from '../stacks/bullmq.js';
import { ConveyorStack } from '../stacks/conveyor.js';
import { ratio } from '../stats.js';

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

/** Queues `jobs` seed jobs through an API's POST /jobs/batch; returns the Redis bytes each added. */
async function bytesPerJob(ctx: BenchContext, url: string, jobs: number): Promise<number> {
  await flush(ctx);
  const before = await usedMemory(ctx.admin);
  const body = JSON.stringify({ jobs: Array.from({ length: 1_000 }, () => SEED_JOB) });
  for (let i = 0; i < jobs; i += 1_000) {
    const response = await fetch(`${url}/jobs/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    if (response.status !== 202) throw new Error(`${url}/jobs/batch answered ${response.status}: ${await response.text()}`);
  }
  return (await usedMemory(ctx.admin)) - before;
}

/**
 * Redis memory per queued (waiting) job for the seed's example payload, as each API stores it:
 * Conveyor's stream entry plus its index field, BullMQ's job hash plus its wait-list entry.
 */
export async function memory(ctx: BenchContext): Promise<ScenarioResult> {
  const { jobs } = ctx.sizes.memory;
  const conveyor = new ConveyorStack(ctx.redisUrl);
  const bullmq = new BullmqStack(ctx.redisUrl);
  const apis = { conveyor: await conveyor.startApi(), bullmq: await bullmq.startApi() };
  let ours: number;
  let peer: number;
  try {
    ours = (await bytesPerJob(ctx, apis.conveyor.url, jobs)) / jobs;
    peer = (await bytesPerJob(ctx, apis.bullmq.url, jobs)) / jobs;
  } finally {
    await Promise.all([apis.conveyor.stop(), apis.bullmq.stop()]);
    await bullmq.close();
    conveyor.close();
    await flush(ctx);
  }
  ctx.progress(`memory: conveyor ${formatNumber(ours)} B/job, bullmq ${formatNumber(peer)} B/job`);
  const value = ratio(ours, peer);
  return {
    scenario: 'memory',
    figures: { jobs, payload: SEED_JOB, bytes_per_job: { conveyor: Math.round(ours), bullmq: Math.round(peer) } },
    comparisons: [
      { scenario: 'memory', measure: 'Redis bytes per queued seed job', ours: `${formatNumber(ours)} B`, peer: `${formatNumber(peer)} B`, ratio: value, target: '≤ 0.5×', met: value <= 0.5 },
    ],
  };
}
