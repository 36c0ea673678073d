import autocannon from 'autocannon';
import { startPeer } from '../peers/peer-process.js';
import { flush, formatNumber, SEED_JOB, type BenchContext, type ScenarioResult } from '../scenario.js';
import { ConveyorStack } from '../stacks/conveyor.js';
import { BullmqStack } from '../stacks/bullmq.js';
import { median, ratio } from '../stats.js';

type Target = 'bare' | 'conveyor' | 'bullmq';

/** Requests per second answered 2xx over one autocannon run; any error or non-2xx answer fails the run. */
async function load(url: string, seconds: number, connections: number): Promise<{ rps: number; p99_ms: number }> {
  const result = await autocannon({
    url: `${url}/jobs`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(SEED_JOB),
    connections,
    duration: seconds,
  });
  if (result.errors > 0 || result.non2xx > 0) throw new Error(`${url}: ${result.errors} errors and ${result.non2xx} non-2xx answers under load`);
  return { rps: result.requests.average, p99_ms: result.latency.p99 };
}

/**
 * POST /jobs under autocannon: Conveyor's API against the bare-Fastify ceiling and a Fastify
 * route calling BullMQ's queue.add, taking turns, each round on an empty Redis.
 */
export async function httpIngestion(ctx: BenchContext): Promise<ScenarioResult> {
  const { seconds, warmupSeconds, connections } = ctx.sizes.http;
  const conveyor = new ConveyorStack(ctx.redisUrl);
  const bullmq = new BullmqStack(ctx.redisUrl);
  const servers = {
    bare: await startPeer('bare-api', {}),
    conveyor: await conveyor.startApi(),
    bullmq: await bullmq.startApi(),
  };
  const runs: Record<Target, { rps: number; p99_ms: number }[]> = { bare: [], conveyor: [], bullmq: [] };
  try {
    for (const target of Object.keys(servers) as Target[]) {
      if (warmupSeconds > 0) await load(servers[target].url, warmupSeconds, connections);
    }
    for (let round = 1; round <= ctx.sizes.rounds; round += 1) {
      for (const target of Object.keys(servers) as Target[]) {
        await flush(ctx);
        const run = await load(servers[target].url, seconds, connections);
        runs[target].push(run);
        ctx.progress(`http ingestion round ${round}/${ctx.sizes.rounds}: ${target} ${formatNumber(run.rps)} req/s`);
      }
    }
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.stop()));
    await bullmq.close();
    conveyor.close();
    await flush(ctx);
  }
  const rps = (target: Target) => median(runs[target].map((run) => run.rps));
  const p99 = (target: Target) => median(runs[target].map((run) => run.p99_ms));
  const ceiling = ratio(rps('conveyor'), rps('bare'));
  return {
    scenario: 'HTTP ingestion',
    figures: { connections, seconds_per_run: seconds, runs, median_rps: { bare: rps('bare'), conveyor: rps('conveyor'), bullmq: rps('bullmq') }, median_p99_ms: { bare: p99('bare'), conveyor: p99('conveyor'), bullmq: p99('bullmq') } },
    comparisons: [
      { scenario: 'HTTP ingestion', measure: 'POST /jobs req/s vs bare Fastify', ours: `${formatNumber(rps('conveyor'))} req/s`, peer: `${formatNumber(rps('bare'))} req/s`, ratio: ceiling, target: '≥ 0.85×', met: ceiling >= 0.85 },
      { scenario: 'HTTP ingestion', measure: 'POST /jobs req/s vs Fastify + BullMQ', ours: `${formatNumber(rps('conveyor'))} req/s`, peer: `${formatNumber(rps('bullmq'))} req/s`, ratio: ratio(rps('conveyor'), rps('bullmq')), target: '—', met: null },
    ],
  };
}
