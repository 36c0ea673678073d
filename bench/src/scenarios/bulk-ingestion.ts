import { Agent } from 'node:http';
import { flush, formatNumber, SEED_JOB, type BenchContext, type ScenarioResult } from '../scenario.js';
import { BullmqStack } from '../stacks/bullmq.js';
import { ConveyorStack } from '../stacks/conveyor.js';
import { median, ratio } from '../stats.js';
import { postJson } from '../steady-load.js';

/**
 * Sends `jobs` jobs as batches of `batch`, `inFlight` requests at a time; returns jobs per second.
 * Over node:http with kept-alive connections, as the steady load does: fetch spends several times
 * the CPU per request, which this 2-core machine would take from the processes being measured.
 */
async function sendBatches(url: string, jobs: number, batch: number, inFlight: number): Promise<number> {
  const body = JSON.stringify({ jobs: Array.from({ length: batch }, () => SEED_JOB) });
  const agent = new Agent({ keepAlive: true });
  const target = new URL(`${url}/jobs/batch`);
  let remaining = Math.ceil(jobs / batch);
  const started = performance.now();
  const sender = async () => {
    while (remaining > 0) {
      remaining -= 1;
      const answer = await postJson(agent, target, body);
      const accepted = answer.status === 202 ? (JSON.parse(answer.body) as { jobs?: unknown[] }).jobs?.length : undefined;
      if (accepted !== batch) throw new Error(`${target.href} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
    }
  };
  try {
    await Promise.all(Array.from({ length: inFlight }, sender));
  } finally {
    agent.destroy();
  }
  return (Math.ceil(jobs / batch) * batch) / ((performance.now() - started) / 1_000);
}

/** POST /jobs/batch (one enqueue script per request) against a Fastify route calling BullMQ's addBulk. */
export async function bulkIngestion(ctx: BenchContext): Promise<ScenarioResult> {
  const { jobs, batch, inFlight } = ctx.sizes.bulk;
  const conveyor = new ConveyorStack(ctx.redisUrl);
  const bullmq = new BullmqStack(ctx.redisUrl);
  const apis = { conveyor: await conveyor.startApi(), bullmq: await bullmq.startApi() };
  const runs: Record<'conveyor' | 'bullmq', number[]> = { conveyor: [], bullmq: [] };
  try {
    for (const side of ['conveyor', 'bullmq'] as const) await sendBatches(apis[side].url, batch * 2, batch, 1);
    for (let round = 1; round <= ctx.sizes.rounds; round += 1) {
      for (const side of ['conveyor', 'bullmq'] as const) {
        await flush(ctx);
        const rate = await sendBatches(apis[side].url, jobs, batch, inFlight);
        runs[side].push(rate);
        ctx.progress(`bulk ingestion round ${round}/${ctx.sizes.rounds}: ${side} ${formatNumber(rate)} jobs/s`);
      }
    }
  } finally {
    await Promise.all([apis.conveyor.stop(), apis.bullmq.stop()]);
    await bullmq.close();
    conveyor.close();
    await flush(ctx);
  }
  const ours = median(runs.conveyor);
  const peer = median(runs.bullmq);
  const value = ratio(ours, peer);
  return {
    scenario: 'bulk ingestion',
    figures: { jobs_per_run: jobs, batch, requests_in_flight: inFlight, runs_jobs_per_s: runs, median_jobs_per_s: { conveyor: ours, bullmq: peer } },
    comparisons: [
      { scenario: 'bulk ingestion', measure: `POST /jobs/batch (${batch}/request) vs addBulk`, ours: `${formatNumber(ours)} jobs/s`, peer: `${formatNumber(peer)} jobs/s`, ratio: value, target: '≥ 5×', met: value >= 5 },
    ],
  };
}
