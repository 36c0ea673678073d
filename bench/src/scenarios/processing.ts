import { watchCompletions } from '../progress-watch.js';
import { flush, formatNumber, SEED_JOB, type BenchContext, type ScenarioResult } from '../scenario.js';
import { BullmqStack } from '../stacks/bullmq.js';
import { ConveyorStack } from '../stacks/conveyor.js';
import { ratio } from '../stats.js';

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
  try {
    for (let i = 0; i < Math.max(oursConcurrency.length, bullmqConcurrency.length); i += 1) {
      const ourConcurrency = oursConcurrency[i];
      if (ourConcurrency !== undefined) {
        await flush(ctx);
        await conveyor.enqueue(Array.from({ length: jobs }, () => JSON.stringify(payload)));
        const worker = await conveyor.startWorker(ourConcurrency);
        try {
          const drained = await watchCompletions(() => conveyor.completed(), jobs, (done) => ctx.progress(`processing: conveyor, concurrency ${ourConcurrency}: ${formatNumber(done)}/${formatNumber(jobs)}`));
          ours[ourConcurrency] = drained.perSecond;
        } finally {
          await worker.stop();
        }
        ctx.progress(`processing: conveyor, concurrency ${ourConcurrency}: ${formatNumber(ours[ourConcurrency]!)} jobs/s`);
      }
      const peerConcurrency = bullmqConcurrency[i];
      if (peerConcurrency !== undefined) {
        await flush(ctx);
        await bullmq.enqueue(Array.from({ length: jobs }, () => SEED_JOB));
        const worker = await bullmq.startWorker(peerConcurrency);
        try {
          const drained = await watchCompletions(() => bullmq.completed(), jobs, (done) => ctx.progress(`processing: bullmq, concurrency ${peerConcurrency}: ${formatNumber(done)}/${formatNumber(jobs)}`));
          peer[peerConcurrency] = drained.perSecond;
        } finally {
          await worker.stop();
        }
        ctx.progress(`processing: bullmq, concurrency ${peerConcurrency}: ${formatNumber(peer[peerConcurrency]!)} jobs/s`);
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
