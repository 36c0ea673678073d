import { watchCompletions } from '../progress-watch.js';
import { flush, formatNumber, type BenchContext, type ScenarioResult } from '../scenario.js';
import { ConveyorStack } from '../stacks/conveyor.js';
import { ratio } from '../stats.js';

/**
 * I/O-bound jobs (echo with sleep_ms) on 1, 2 and 4 worker processes. The workers are running
 * before the jobs arrive; the rate is measured from the first completion to the last.
 */
export async function scaleOut(ctx: BenchContext): Promise<ScenarioResult> {
  const { secondsPerRun, workers: counts, concurrency, sleepMs } = ctx.sizes.scaleOut;
  const conveyor = new ConveyorStack(ctx.redisUrl);
  const perWorkerIdeal = concurrency * (1_000 / sleepMs);
  const rates: Record<number, number> = {};
  const payload = JSON.stringify({ model: 'echo', prompt: 'io', params: { sleep_ms: sleepMs } });
  try {
    for (const count of counts) {
      await flush(ctx);
      const jobs = Math.round(count * perWorkerIdeal * secondsPerRun);
      const workers = await Promise.all(Array.from({ length: count }, () => conveyor.startWorker(concurrency)));
      try {
        const enqueued = conveyor.enqueue(Array.from({ length: jobs }, () => payload));
        const drained = await watchCompletions(() => conveyor.completed(), jobs, (done) => ctx.progress(`scale-out: ${count} workers: ${formatNumber(done)}/${formatNumber(jobs)}`));
        await enqueued;
        rates[count] = drained.perSecond;
      } finally {
        await Promise.all(workers.map((worker) => worker.stop()));
      }
      ctx.progress(`scale-out: ${count} worker(s): ${formatNumber(rates[count]!)} jobs/s (ideal ${formatNumber(count * perWorkerIdeal)})`);
    }
  } finally {
    conveyor.close();
    await flush(ctx);
  }
  const most = Math.max(...counts);
  const speedup = ratio(rates[most]!, rates[1]!);
  const target = most === 4 ? 3.6 : most * 0.9;
  return {
    scenario: 'scale-out',
    figures: { sleep_ms: sleepMs, concurrency_per_worker: concurrency, jobs_per_s: rates, ideal_jobs_per_s_per_worker: perWorkerIdeal, speedup: Object.fromEntries(counts.map((count) => [count, ratio(rates[count]!, rates[1]!)])) },
    comparisons: [
      { scenario: 'scale-out', measure: `${most} workers vs 1 (sleep_ms ${sleepMs})`, ours: `${formatNumber(rates[most]!)} jobs/s`, peer: `${formatNumber(rates[1]!)} jobs/s × ${most} ideal`, ratio: speedup, target: `≥ ${target}×`, met: speedup >= target },
    ],
  };
}
