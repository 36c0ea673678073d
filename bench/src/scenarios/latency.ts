import { Redis } from 'ioredis';
import { Agent } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { flush, formatNumber, SEED_JOB, type BenchContext, type ScenarioResult } from '../scenario.js';
import { postJson, steadyLoad } from '../steady-load.js';
import { BullmqStack } from '../stacks/bullmq.js';
import { ConveyorStack } from '../stacks/conveyor.js';
import { median, ratio, summarize, type LatencySummary } from '../stats.js';
import { waitFor } from '@conveyor/testing/wait';

const WORKER_CONCURRENCY = 64;

/** When each job was seen active and completed, as events reach the benchmark. */
class Sightings {
  readonly active = new Map<string, number>();
  readonly completed = new Map<string, number>();
  readonly #waiters = new Map<string, () => void>();

  see(kind: 'active' | 'completed', jobId: string): void {
    this[kind].set(jobId, performance.now());
    if (kind === 'active') this.#waiters.get(jobId)?.();
  }

  async activeAt(jobId: string, timeoutMs = 30_000): Promise<number> {
    if (!this.active.has(jobId)) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`job ${jobId} was not seen active within ${timeoutMs} ms`)), timeoutMs);
        this.#waiters.set(jobId, () => {
          clearTimeout(timer);
          resolve();
        });
      }).finally(() => this.#waiters.delete(jobId));
    }
    return this.active.get(jobId)!;
  }
}

interface Side {
  url: string;
  sightings: Sightings;
}

async function steady(ctx: BenchContext, side: Side, seconds = ctx.sizes.latency.seconds): Promise<LatencySummary & { achieved_rate: number; failed: number }> {
  const { rate } = ctx.sizes.latency;
  const sentAt = new Map<string, number>();
  const load = await steadyLoad(`${side.url}/jobs`, JSON.stringify(SEED_JOB), rate, seconds, (jobId, at) => sentAt.set(jobId, at));
  await waitFor(() => [...sentAt.keys()].every((id) => side.sightings.completed.has(id)), 'every job of the steady load to complete', 60_000);
  const latencies = [...sentAt].map(([id, at]) => side.sightings.completed.get(id)! - at);
  return { ...summarize(latencies), achieved_rate: Math.round(load.achievedRate), failed: load.failed };
}

async function idle(ctx: BenchContext, side: Side): Promise<LatencySummary> {
  const agent = new Agent({ keepAlive: true });
  const url = new URL(`${side.url}/jobs`);
  const samples: number[] = [];
  try {
    for (let i = 0; i < ctx.sizes.latency.idleSamples; i += 1) {
      const sentAt = performance.now();
      const answer = await postJson(agent, url, JSON.stringify(SEED_JOB));
      // A refused job is never seen active: waiting for it would hang the run.
      if (answer.status >= 300) throw new Error(`POST ${url.href} answered ${answer.status} on an idle system: ${answer.body}`);
      const { job_id: jobId } = JSON.parse(answer.body) as { job_id: string };
      samples.push((await side.sightings.activeAt(jobId)) - sentAt);
      await sleep(10);
    }
  } finally {
    agent.destroy();
  }
  return summarize(samples);
}

/**
 * End-to-end latency (POST sent → completed event received) at a steady offered load, and
 * POST sent → active event received on an idle system. Conveyor's events come from its pub/sub
 * channel, BullMQ's from QueueEvents; the same process sends and listens, on one clock.
 */
export async function latency(ctx: BenchContext): Promise<ScenarioResult> {
  await flush(ctx);
  const conveyor = new ConveyorStack(ctx.redisUrl);
  const bullmq = new BullmqStack(ctx.redisUrl);
  const processes = await Promise.all([conveyor.startApi(), conveyor.startWorker(WORKER_CONCURRENCY), bullmq.startApi(), bullmq.startWorker(WORKER_CONCURRENCY)]);
  const subscriber = new Redis(ctx.redisUrl);
  const events = bullmq.events();
  const sides = { conveyor: { url: processes[0].url, sightings: new Sightings() }, bullmq: { url: processes[2].url, sightings: new Sightings() } };
  const results = { conveyor: { steady: [] as Awaited<ReturnType<typeof steady>>[], idle: [] as LatencySummary[] }, bullmq: { steady: [] as Awaited<ReturnType<typeof steady>>[], idle: [] as LatencySummary[] } };
  try {
    subscriber.on('message', (_channel, text: string) => {
      const event = JSON.parse(text) as { event: string; job_id: string };
      if (event.event === 'active' || event.event === 'completed') sides.conveyor.sightings.see(event.event, event.job_id);
    });
    await subscriber.subscribe(conveyor.keys.events);
    events.on('active', ({ jobId }) => sides.bullmq.sightings.see('active', jobId));
    events.on('completed', ({ jobId }) => sides.bullmq.sightings.see('completed', jobId));
    await events.waitUntilReady();
    // A short run at the same rate first, not counted: the processes' code gets compiled hot.
    for (const name of ['conveyor', 'bullmq'] as const) await steady(ctx, sides[name], ctx.sizes.latency.warmupSeconds);
    for (let round = 1; round <= ctx.sizes.rounds; round += 1) {
      for (const name of ['conveyor', 'bullmq'] as const) {
        const run = await steady(ctx, sides[name]);
        results[name].steady.push(run);
        ctx.progress(`latency round ${round}/${ctx.sizes.rounds}: ${name} at ${formatNumber(run.achieved_rate)}/s p50 ${run.p50_ms} ms, p99 ${run.p99_ms} ms`);
        await sleep(500);
        const quiet = await idle(ctx, sides[name]);
        results[name].idle.push(quiet);
        ctx.progress(`latency round ${round}/${ctx.sizes.rounds}: ${name} idle enqueue → active p99 ${quiet.p99_ms} ms`);
      }
    }
  } finally {
    subscriber.disconnect();
    await events.close();
    await Promise.all(processes.map((process) => process.stop()));
    await bullmq.close();
    conveyor.close();
    await flush(ctx);
  }
  const pick = (name: 'conveyor' | 'bullmq', key: 'p50_ms' | 'p99_ms' | 'max_ms', kind: 'steady' | 'idle') => median(results[name][kind].map((run) => run[key]));
  const p99 = ratio(pick('conveyor', 'p99_ms', 'steady'), pick('bullmq', 'p99_ms', 'steady'));
  const idleP99 = pick('conveyor', 'p99_ms', 'idle');
  const ms = (name: 'conveyor' | 'bullmq', kind: 'steady' | 'idle') => `p50 ${pick(name, 'p50_ms', kind)} / p99 ${pick(name, 'p99_ms', kind)} / max ${pick(name, 'max_ms', kind)} ms`;
  return {
    scenario: 'latency',
    figures: { offered_rate: ctx.sizes.latency.rate, seconds_per_run: ctx.sizes.latency.seconds, worker_concurrency: WORKER_CONCURRENCY, runs: results },
    comparisons: [
      { scenario: 'latency', measure: `POST → completed at ${formatNumber(ctx.sizes.latency.rate)}/s (p99 ratio)`, ours: ms('conveyor', 'steady'), peer: ms('bullmq', 'steady'), ratio: p99, target: '≤ 0.5×', met: p99 <= 0.5 },
      { scenario: 'latency', measure: 'POST → active, idle', ours: ms('conveyor', 'idle'), peer: ms('bullmq', 'idle'), ratio: ratio(idleP99, pick('bullmq', 'p99_ms', 'idle')), target: 'p99 < 5 ms', met: idleP99 < 5 },
    ],
  };
}
