import { RedisServer } from '@conveyor/testing/redis-server';
import { Redis } from 'ioredis';
import { readCpuTimes, stolenPercent } from './cpu-steal.js';
import { describeMachine, type Machine } from './machine.js';
import type { BenchContext, Comparison, ScenarioResult } from './scenario.js';
import { bulkIngestion } from './scenarios/bulk-ingestion.js';
import { httpIngestion } from './scenarios/http-ingestion.js';
import { latency } from './scenarios/latency.js';
import { memory } from './scenarios/memory.js';
import { pipeline } from './scenarios/pipeline.js';
import { processing } from './scenarios/processing.js';
import { scaleOut } from './scenarios/scale-out.js';
import { SIZES, type Mode } from './sizes.js';

export const SCENARIOS = {
  'http-ingestion': httpIngestion,
  'bulk-ingestion': bulkIngestion,
  processing,
  latency,
  memory,
  'scale-out': scaleOut,
  pipeline,
} as const;
export type ScenarioName = keyof typeof SCENARIOS;

export interface BenchResults {
  date: string;
  mode: Mode;
  machine: Machine;
  duration_s: number;
  /** Per scenario, the share of CPU time the hypervisor took while it ran (null where unknown). */
  cpu_steal_pct: Record<string, number | null>;
  comparisons: Comparison[];
  scenarios: ScenarioResult[];
}

export interface BenchOptions {
  mode: Mode;
  only?: readonly ScenarioName[];
  progress?: (message: string) => void;
}

/**
 * Runs the scenarios one after another on a redis-server of the benchmark's own (AOF off, a
 * free port), each comparing Conveyor with its peer on the same server in the same run.
 */
export async function runBenchmark({ mode, only, progress = () => {} }: BenchOptions): Promise<BenchResults> {
  const started = performance.now();
  const server = await RedisServer.start({ extraArgs: ['--loglevel', 'warning'] });
  const admin = new Redis(server.url);
  const ctx: BenchContext = { redisUrl: server.url, admin, sizes: SIZES[mode], progress };
  try {
    const machine = await describeMachine(admin);
    const scenarios: ScenarioResult[] = [];
    const steal: Record<string, number | null> = {};
    for (const [name, scenario] of Object.entries(SCENARIOS) as [ScenarioName, (ctx: BenchContext) => Promise<ScenarioResult>][]) {
      if (only && !only.includes(name)) continue;
      progress(`— ${name}`);
      const before = readCpuTimes();
      scenarios.push(await scenario(ctx));
      steal[name] = stolenPercent(before, readCpuTimes());
      if (steal[name] !== null) progress(`${name}: ${steal[name]}% of the machine's CPU time was taken by the hypervisor (steal)`);
    }
    return {
      date: new Date().toISOString(),
      mode,
      machine,
      duration_s: Math.round((performance.now() - started) / 1_000),
      cpu_steal_pct: steal,
      comparisons: scenarios.flatMap((result) => result.comparisons),
      scenarios,
    };
  } finally {
    admin.disconnect();
    await server.stop();
  }
}
