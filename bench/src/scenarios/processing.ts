import { watchCompletions } from '../progress-watch.js';
import { flush, formatNumber, SEED_JOB, type BenchContext, type ScenarioResult } from '../scenario.js';
import { BullmqStack } from '../stacks/bullmq.js';
import { ConveyorStack } from '../stacks/conveyor.js';
import { ratio } from '../stats.js';

interface Side {
  name: string;
  fill(): Promise<unknown>;
  startWorker(concurrency: number): Promise<{ stop(): Promise<unknown> }>;
  completed(): Promise<number>;
}

/** Fills an empty Redis with `jobs` jobs, starts one worker, and measures how fast it drains them. */
async function drain(ctx: BenchContext, side: Side, concurrency: number, jobs: number): Promise<number> {
  await flush(ctx);
  await side.fill();
  const worker = await side.startWorker(concurrency);
  try {
    const label = `processing: ${side.name}, concurrency ${concurrency}`;
    const drained = await watchCompletions(() => side.completed(), jobs, (done) => ctx.progress(`${label}: ${formatNumber(done)}/${formatNumber(jobs)}`));
    ctx.progress(`${label}: ${formatNumber(drained.perSecond)} jobs/s`);
    return drained.perSecond;
  } finally {
    await worker.stop();
  }
}

/**
 * One worker process, a no-op job (the echo model / a processor returning the prompt), a queue
 * filled before the worker starts. Each side runs at each of its concurrencies and keeps its
 * best; the two take turns.
 */
export async function processing(ctx: BenchContext): Promise<ScenarioResult> {
  const { jobs, oursConcurrency, bullmqConcurrency } = ctx.sizes.processing;
  const conveyor = new ConveyorStack(ctx.redisUrl);
  const bullmq = new BullmqStack(ctx.redisUrl);
  const { priority: _lane, ...payload } = SEED_JOB;
  const ours: Record<number, number> = {};
  const peer: Record<number, number> = {};
  const sides: [Side, readonly number[], Record<number, number>][] = [
    [{ name: 'conveyor', fill: () => conveyor.enqueue(Array.from({ length: jobs }, () => JSON.stringify(payload))), startWorker: (c) => conveyor.startWorker(c), completed: () => conveyor.completed() }, oursConcurrency, ours],
    [{ name: 'bullmq', fill: () => bullmq.enqueue(Array.from({ length: jobs }, () => SEED_JOB)), startWorker: (c) => bullmq.startWorker(c), completed: () => bullmq.completed() }, bullmqConcurrency, peer],
  ];
  try {
    for (let i = 0; i < Math.max(oursConcurrency.length, bullmqConcurrency.length); i += 1) {
      for (const [side, concurrencies, rates] of sides) {
        const concurrency = concurrencies[i];
        if (concurrency !== undefined) rates[concurrency] = await drain(ctx, side, concurrency, jobs);
      }
    }
  } finally {
    await bullmq.close();
    conveyor.close();
    await flush(ctx);
  }
  const best = (runs: Record<number, number>) => Object.entries(runs).reduce((a, b) => (b[1] > a[1] ? b : a));
  const [oursAt, oursRate] = best(ours);
  const [peerAt, peerRate] = best(peer);
  const value = ratio(oursRate, peerRate);
  return {
    scenario: 'processing',
    figures: { jobs, jobs_per_s_by_concurrency: { conveyor: ours, bullmq: peer }, best: { conveyor: { concurrency: Number(oursAt), jobs_per_s: oursRate }, bullmq: { concurrency: Number(peerAt), jobs_per_s: peerRate } } },
    comparisons: [
      { scenario: 'processing', measure: `1 worker, no-op, ${formatNumber(jobs)} jobs`, ours: `${formatNumber(oursRate)} jobs/s (c=${oursAt})`, peer: `${formatNumber(peerRate)} jobs/s (c=${peerAt})`, ratio: value, target: '≥ 4×', met: value >= 4 },
    ],
  };
}
